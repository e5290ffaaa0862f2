"""Backtests as jobs: submit one (a parameter set or a grid), poll it, see its equity chart."""

from __future__ import annotations

from flask import Response, request, url_for
from flask.views import MethodView

from api import charts, deps
from api.resources import Blueprint
from api.schemas.backtests import (
    MAX_INLINE_BYTES,
    BacktestAcceptedSchema,
    BacktestCreateSchema,
    BacktestSchema,
)
from strategies.backtest_runs import BacktestBook, BacktestRun
from tasks.backtests import submit_backtest

blp = Blueprint(
    "backtests",
    __name__,
    url_prefix="/api/v1/backtests",
    description="Backtests run by the workers on the strategies queue",
)


@blp.before_request
def _allow_inline_bars() -> None:
    request.max_content_length = MAX_INLINE_BYTES + 64 * 1024  # CSV bars inline


def _view(run: BacktestRun) -> dict:
    body = {name: getattr(run, name) for name in run.__dataclass_fields__}
    body["state"] = run.state.value
    body["progress"] = {
        "done": run.done,
        "total": run.total,
        "chunks_done": run.chunks_done,
        "chunks": run.chunks,
        "pct": run.progress_pct,
    }
    return body


@blp.route("")
class BacktestList(MethodView):
    @blp.arguments(BacktestCreateSchema)
    @blp.response(202, BacktestAcceptedSchema)
    @blp.alt_response(422, description="A field is wrong (named in `errors`)")
    @blp.alt_response(503, description="Bars from the store, but market history is off")
    def post(self, data):
        """Queue a backtest of one parameter set (`params`) or a grid (`grid`)."""
        store = deps.market_store() if data.get("symbol") else None
        run = submit_backtest(deps.connection(), data, store)
        return {
            "backtest_id": run.id,
            "status_url": url_for("backtests.BacktestItem", backtest_id=run.id),
            "equity_url": url_for("backtests.BacktestEquity", backtest_id=run.id),
            "state": run.state.value,
        }


@blp.route("/<string:backtest_id>")
class BacktestItem(MethodView):
    @blp.response(200, BacktestSchema)
    @blp.alt_response(404, description="No such backtest")
    def get(self, backtest_id):
        """The backtest's state, progress and, once finished, stats, trades and ranking."""
        return _view(BacktestBook(deps.connection()).get(backtest_id))


@blp.route("/<string:backtest_id>/equity.png")
class BacktestEquity(MethodView):
    @blp.response(200, content_type="image/png")
    @blp.alt_response(404, description="No such backtest, or not finished")
    def get(self, backtest_id):
        """Equity and drawdown chart of a finished backtest (a grid's best set)."""
        book = BacktestBook(deps.connection())
        run = book.get(backtest_id)
        equity, time = book.equity(backtest_id)
        title = f"{run.strategy} {run.best_params or run.params}"
        return Response(charts.equity_png(equity, time, title=title), mimetype="image/png")
