-- Placeholder on the `pep` branch only: number 7 belongs to another branch's migration, which
-- replaces this file when the branches are merged (the migration runner allows no gap before 0008).
SELECT 1;
