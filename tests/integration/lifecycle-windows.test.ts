import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { expireWindow, listWindowIdentities, renameWindow } from "@/server/services/lifecycle/windows";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// Window identities: listing the unexpired ones, renaming (adjective+noun only) and expiring.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

const A = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d";
const B = "1a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d";
const C = "2a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d";
const DAY = 24 * 3600 * 1000;

async function windows(key: string) {
  const { ctx, project } = await projectWithAgents(db, key, []);
  const now = Date.now();
  await db.prisma.windowIdentity.createMany({
    data: [
      { projectId: project.id, windowUuid: A, displayName: "GreenLake", createdTs: new Date(now - 3.5 * DAY) },
      { projectId: project.id, windowUuid: B, displayName: "BlueDog", expiresTs: new Date(now + 30 * DAY) },
      { projectId: project.id, windowUuid: C, displayName: "RedFox", expiresTs: new Date(now - 1000) },
    ],
  });
  return { ctx, project };
}

describe("list_window_identities", () => {
  it("lists the unexpired identities with their age in whole days", async () => {
    const { ctx } = await windows("/windows/list");
    const listed = await invoke(listWindowIdentities, ctx, { project_key: "/windows/list" });
    expect(listed.count).toBe(2);
    expect(listed.identities.map((w) => [w.window_uuid, w.display_name, w.age_days, w.expires_ts === null])).toEqual([
      [A, "GreenLake", 3, true],
      [B, "BlueDog", 0, false],
    ]);
  });
});

describe("rename_window", () => {
  it("renames to the canonical adjective+noun spelling and returns the old name", async () => {
    const { ctx } = await windows("/windows/rename");
    const renamed = await invoke(renameWindow, ctx, { project_key: "/windows/rename", window_uuid: A.toUpperCase(), new_display_name: "silverhawk" });
    expect(renamed).toMatchObject({ window_uuid: A, display_name: "SilverHawk", old_display_name: "GreenLake" });
    const listed = await invoke(listWindowIdentities, ctx, { project_key: "/windows/rename" });
    expect(listed.identities.find((w) => w.window_uuid === A)?.display_name).toBe("SilverHawk");
  });

  it("refuses a malformed UUID, a name that is not adjective+noun (explicit ids included) and an unknown window", async () => {
    const { ctx, project } = await windows("/windows/rename-errors");
    const key = "/windows/rename-errors";
    const badUuid = await rejection(invoke(renameWindow, ctx, { project_key: key, window_uuid: "not-a-uuid", new_display_name: "SilverHawk" }));
    expect([badUuid.code, badUuid.message]).toEqual(["INVALID_WINDOW_UUID", "window_uuid 'not-a-uuid' is not a valid UUID."]);
    for (const name of ["alpha-one", "LakeGreen", "Green Lake x"]) {
      const badName = await rejection(invoke(renameWindow, ctx, { project_key: key, window_uuid: A, new_display_name: name }));
      expect(badName.code).toBe("INVALID_DISPLAY_NAME");
    }
    const unknown = await rejection(invoke(renameWindow, ctx, { project_key: key, window_uuid: "ffffffff-0000-4000-8000-000000000000", new_display_name: "SilverHawk" }));
    expect(unknown.code).toBe("WINDOW_NOT_FOUND");
    expect(await db.prisma.windowIdentity.findMany({ where: { projectId: project.id }, select: { displayName: true }, orderBy: { id: "asc" } })).toEqual([
      { displayName: "GreenLake" },
      { displayName: "BlueDog" },
      { displayName: "RedFox" },
    ]);
  });
});

describe("expire_window", () => {
  it("expires a window now, once: it leaves the list and expiring again keeps the first time", async () => {
    const { ctx } = await windows("/windows/expire");
    const key = "/windows/expire";
    const expired = await invoke(expireWindow, ctx, { project_key: key, window_uuid: B });
    expect(expired).toEqual({ window_uuid: B, display_name: "BlueDog", expired: true, expired_at: expect.stringMatching(/\+00:00$/) });
    expect((await invoke(listWindowIdentities, ctx, { project_key: key })).identities.map((w) => w.window_uuid)).toEqual([A]);
    const again = await invoke(expireWindow, ctx, { project_key: key, window_uuid: B });
    expect(again.expired_at).toBe(expired.expired_at);
  });
});
