import type { DomainSamples } from ".";

let created = 0;
let toggled = 0;

export const userSamples: DomainSamples = {
  expected: {
    create_user: "admin",
    list_users: "admin",
    set_user_disabled: "admin",
  },
  samples: async ({ db }) => {
    await db.prisma.user.create({ data: { email: "matrix-user@example.test", passwordHash: "", role: "reader" } });
    return {
      inputs: {
        create_user: { email: "matrix-new@example.test", role: "reader" },
        list_users: { include_disabled: true },
        set_user_disabled: { email: "matrix-user@example.test", disabled: true },
      },
      // Each allowed call should change something: a new email each time, and the flag flipped.
      fresh: {
        create_user: async () => ({ email: `matrix-new-${(created += 1)}@example.test`, role: "reader" }),
        set_user_disabled: async () => ({ email: "matrix-user@example.test", disabled: (toggled += 1) % 2 === 1 }),
      },
    };
  },
};
