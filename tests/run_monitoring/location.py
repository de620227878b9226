"""A tiny code location for the run-monitoring test: a job that never ends and a schedule every minute."""

import time

import dagster as dg


@dg.op
def wait_for_ever() -> None:
    while True:  # killed by the test
        time.sleep(1)


@dg.op
def quick() -> None:
    pass


@dg.job
def stuck():
    wait_for_ever()


@dg.job
def nightly():
    quick()


every_minute = dg.ScheduleDefinition(name="every_minute", job=nightly, cron_schedule="* * * * *",
                                     default_status=dg.DefaultScheduleStatus.RUNNING)

defs = dg.Definitions(jobs=[stuck, nightly], schedules=[every_minute])
