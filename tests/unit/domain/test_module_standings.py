"""Each module's state for pages and reports follows the same rules as the certification status."""
from __future__ import annotations

from decimal import Decimal

import pytest

from lti_tool.domain.completion import ModuleState, module_standings
from lti_tool.domain.results import ModuleResult, Score, current_results
from tests.unit.domain.conftest import EXAMPLE_MODULE_KEYS, at, build_fei_programme


FIRST = EXAMPLE_MODULE_KEYS[0]


def grade(module_key: str, given: str, maximum: str, days: float, source: str = "li-1") -> ModuleResult:
    return ModuleResult(module_key=module_key, score=Score(Decimal(given), Decimal(maximum)), graded_at=at(days),
                        source=source)


@pytest.mark.parametrize("events,state,score,completed_day", [
    ([], ModuleState.NOT_GRADED, None, None),
    ([grade(FIRST, "1", "1", 1)], ModuleState.COMPLETED, ("1", "1"), 1),
    ([grade(FIRST, "0", "1", 1)], ModuleState.BELOW_PASS_MARK, ("0", "1"), None),
    ([grade(FIRST, "5", "0", 1)], ModuleState.WITHOUT_MAXIMUM, ("5", "0"), None),
    # a lowered regrade from the same source undoes the completion
    ([grade(FIRST, "1", "1", 1), grade(FIRST, "0", "1", 2)], ModuleState.BELOW_PASS_MARK, ("0", "1"), None),
    # any passing source completes, at its time
    ([grade(FIRST, "0", "1", 1, "a"), grade(FIRST, "1", "1", 3, "b")], ModuleState.COMPLETED, ("1", "1"), 3),
])
def test_module_standing(events, state, score, completed_day):
    programme = build_fei_programme()
    standing = module_standings(programme.modules, current_results(events).modules)
    first = standing[0]
    assert len(standing) == len(programme.modules)
    assert first.module_key == programme.modules[0].key
    assert first.state is state
    assert (None if first.score is None else (str(first.score.given), str(first.score.maximum))) == score
    assert first.completed_at == (None if completed_day is None else at(completed_day))
    assert all(s.state is ModuleState.NOT_GRADED for s in standing[1:])
