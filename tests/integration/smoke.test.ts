import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureProject } from "@/server/services/projects/projects";
import { serviceContext } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db.close();
});

describe("smoke", () => {
  it("ensures a project", async () => {
    const project = await ensureProject(serviceContext(db), { human_key: "/backend" });
    expect(project.slug).toBe("backend");
  });
});
