"""Foundation: the liveness probe (no database) and the readiness probe (one query)."""

from tests.bench.harness import BenchContext, Scenario


def scenarios(ctx: BenchContext) -> list[Scenario]:
    return [
        Scenario("health_live", "/health/live", target=">= 15,000 requests/s"),
        Scenario("health_ready", "/health/ready", baseline="pgbench", target="one round trip"),
    ]
