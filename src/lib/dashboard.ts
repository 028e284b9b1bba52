/** An agent counts as active when it acted within this window, idle after it. */
export const ACTIVE_WINDOW_MINUTES = 15;
/** Acks pending longer than this are overdue (the default of resource://views/ack-overdue). */
export const ACK_OVERDUE_MINUTES = 60;
