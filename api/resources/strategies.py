"""The strategy registry: built-in and user strategies with their parameters."""

from __future__ import annotations

from flask.views import MethodView

from api.resources import Blueprint
from api.schemas.strategies import StrategySchema
from strategies.registry import get_strategy, registry

blp = Blueprint(
    "strategies",
    __name__,
    url_prefix="/api/v1/strategies",
    description="Strategies that subscriptions and backtests can name",
)


@blp.route("")
class Strategies(MethodView):
    @blp.response(200, StrategySchema(many=True))
    def get(self):
        """Every registered strategy, with each parameter's type, default and range."""
        return [_describe(name) for name in registry.names()]


def _describe(name: str) -> dict:
    strategy = get_strategy(name)
    return {
        "name": name,
        "description": strategy.summary(),
        "params": [
            {
                "name": param_name,
                "type": param.kind.__name__,
                "default": param.default,
                "low": param.low,
                "high": param.high,
                "help": param.help,
            }
            for param_name, param in strategy.params.items()
        ],
    }
