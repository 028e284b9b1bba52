#!/bin/sh
# Placeholder for Prisma's native schema engine, used only by `prisma generate` (which never runs it).
echo "The native Prisma schema engine is not installed; use npm run db:migrate / db:new-migration." >&2
exit 1
