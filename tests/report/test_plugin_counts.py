"""Kong 3.5's plugin figures from listed plugins, and the tier each plugin counts in."""

from __future__ import annotations

from license_report.report import admin_api, plugins
from license_report_sandbox import seed
from tests.expected import NOW, plugin_figures, serviceless_routes, tiers


def _listed(definition: seed.Seed) -> list[admin_api.Plugin]:
    """The seed's plugins as ``GET /plugins`` items (ids of the form kind-number)."""

    def ref(kind: str, number: int | None) -> dict[str, str] | None:
        return None if number is None else {"id": f"{kind}-{number}"}

    return [
        admin_api.Plugin.model_validate(
            {
                "name": p.name,
                "route": ref("route", p.route),
                "service": ref("service", p.service),
                "consumer": ref("consumer", p.consumer),
                "consumer_group": None if p.consumer_group is None else {"id": p.consumer_group},
                "config": dict(p.config),
                "enabled": True,
            }
        )
        for p in definition.plugins
    ]


def test_listed_plugins_give_the_seeds_figures() -> None:
    definition = seed.sample_seed(now=NOW.date())
    bare = {f"route-{number}" for number in serviceless_routes(definition)}
    usage = plugins.usage(_listed(definition), serviceless_routes=bare)
    by_name, lambdas, kafkas = plugin_figures(definition)
    assert (usage.by_name, usage.unique_route_lambdas, usage.unique_route_kafkas) == (
        by_name,
        lambdas,
        kafkas,
    )
    assert (lambdas, kafkas) == (2, 3)
    assert plugins.tiers(usage.by_name).model_dump() == tiers(by_name)


def test_without_service_less_routes_nothing_is_route_scoped() -> None:
    definition = seed.sample_seed(now=NOW.date())
    usage = plugins.usage(_listed(definition), serviceless_routes=set())
    assert (usage.unique_route_lambdas, usage.unique_route_kafkas) == (0, 0)
    assert sum(usage.by_name.values()) == len(definition.plugins)


def test_unknown_names_are_custom_and_empty_counts_left_out() -> None:
    split = plugins.tiers({"cors": 1, "openid-connect": 2, "acme-corp-auth": 3, "jwt": 0})
    assert split.free == {"cors": 1}
    assert split.enterprise == {"openid-connect": 2}
    assert split.custom == {"acme-corp-auth": 3}
    assert not plugins.FREE & plugins.ENTERPRISE
