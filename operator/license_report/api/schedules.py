"""What ``spec.schedule`` and ``spec.timeZone`` mean: cron times, in a time zone.

Pure functions over datetimes (croniter evaluates the expressions), so the
operator's scheduling is tested without waiting. The rules follow Kubernetes'
CronJob: no run at creation; a run owed for each scheduled time, but when the
operator was down (or the schedule suspended) over several of them, one run
for the latest only, never a burst.
"""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo

from croniter import croniter

#: Shorthands croniter does not know, for the audits that ask for quarters.
ALIASES = {"@quarterly": "0 0 1 */3 *"}

UTC = datetime.UTC


def _expanded(expression: str) -> str:
    return ALIASES.get(expression.strip(), expression.strip())


def check_expression(expression: str) -> None:
    """Raise ``ValueError`` unless ``expression`` is a 5-field cron expression or a shorthand."""
    expanded = _expanded(expression)
    if len(expanded.split()) != 5 and not expanded.startswith("@"):
        raise ValueError(
            f"{expression!r} is not a cron expression: five fields (minute hour day-of-month "
            "month day-of-week) or one of @yearly, @quarterly, @monthly, @weekly, @daily, @hourly"
        )
    if not croniter.is_valid(expanded):
        raise ValueError(f"{expression!r} is not a valid cron expression")


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``name`` (UTC when None); ``ValueError`` naming it when unknown."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (such as Europe/Berlin)") from None


@dataclasses.dataclass(frozen=True)
class Schedule:
    expression: str
    time_zone: zoneinfo.ZoneInfo

    @classmethod
    def of(cls, expression: str, time_zone: str | None = None) -> Schedule:
        check_expression(expression)
        return cls(expression=_expanded(expression), time_zone=zone(time_zone))

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first scheduled time strictly after ``moment``, in UTC."""
        found: datetime.datetime = croniter(
            self.expression, moment.astimezone(self.time_zone)
        ).get_next(datetime.datetime)
        return found.astimezone(UTC)

    def latest_at_or_before(self, moment: datetime.datetime) -> datetime.datetime:
        """The last scheduled time not after ``moment``, in UTC."""
        # croniter's get_prev is strictly before its base: start just after ``moment``.
        base = moment.astimezone(self.time_zone) + datetime.timedelta(microseconds=1)
        found: datetime.datetime = croniter(self.expression, base).get_prev(datetime.datetime)
        return found.astimezone(UTC)

    def due(self, *, since: datetime.datetime, now: datetime.datetime) -> datetime.datetime | None:
        """The one run owed at ``now``: the latest scheduled time after ``since`` (the last
        run's schedule time, or the creation time), or None when nothing is owed."""
        latest = self.latest_at_or_before(now)
        return latest if latest > since else None


def parse_time(text: str) -> datetime.datetime:
    """A status timestamp (``2026-11-27T10:00:00Z``) as an aware UTC datetime."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
