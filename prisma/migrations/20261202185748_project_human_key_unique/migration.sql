/*
  Warnings:

  - A unique constraint covering the columns `[human_key]` on the table `projects` will be added. If there are existing duplicate values, this will fail.
  - None can exist: until now a human key always produced the same slug, and slugs were unique.

*/
-- DropIndex
DROP INDEX "projects_human_key_idx";

-- CreateIndex
CREATE UNIQUE INDEX "projects_human_key_key" ON "projects"("human_key");
