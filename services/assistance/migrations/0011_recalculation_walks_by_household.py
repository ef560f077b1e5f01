"""recalculations walk the cases by household: unfinished jobs start over

A recalculation's cursor (the job's, or each range's) was the last case id done; it is now the last household
done, and a split job's ranges are ranges of households. A cursor of the other kind means nothing to the new
walk, so a job interrupted across the upgrade (either way) starts over: its cursor and counts reset and its
ranges forgotten (it splits again when it resumes). Nothing is done twice: the cases it had changed are at the
new amount already, so the re-run changes and publishes nothing for them; its counts then cover the re-run.
Finished jobs are left as they are (a re-run of one starts from the first household anyway).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 00:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _start_unfinished_jobs_over() -> None:
    op.execute(
        "DELETE FROM recalculation_shard WHERE job_id IN (SELECT id FROM recalculation_job WHERE finished_at IS NULL)"
    )
    op.execute("UPDATE recalculation_job SET cursor = '', examined = 0, changed = 0 WHERE finished_at IS NULL")


def upgrade() -> None:
    _start_unfinished_jobs_over()


def downgrade() -> None:
    _start_unfinished_jobs_over()  # the household cursors mean nothing to the walk by case id
