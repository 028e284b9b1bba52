// File reservations: advisory (or, on request, enforced) leases on path patterns.
export const reservationOperations = {} as const;
