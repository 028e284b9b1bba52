/** The human's agent name in every project: what the dashboard writes as, and what agents write to. */
export const OVERSEER_NAME = "HumanOverseer";
