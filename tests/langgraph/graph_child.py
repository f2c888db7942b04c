"""A small LangGraph graph on StoreSaver, run as a separate process by the graph tests.

``python -m tests.langgraph.graph_child URL THREAD PHASE`` with PHASE one of
``start`` (run until the human-review interrupt), ``resume`` (answer it and finish),
``crash`` (run; the ``act`` node kills its own process with SIGKILL), ``continue`` (resume a
crashed run from its last checkpoint). Prints the outcome as one JSON line.
"""

from __future__ import annotations

import json
import operator
import os
import signal
import sys
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from conductor_store.langgraph import StoreSaver


class State(TypedDict):
    steps: Annotated[list, operator.add]


def build(saver: StoreSaver, *, crash: bool = False, review: bool = True):
    def plan(state: State) -> dict:
        return {"steps": ["plan"]}

    def human_review(state: State) -> dict:
        answer = interrupt({"question": "approve the plan?"})
        return {"steps": [f"review:{answer}"]}

    def act(state: State) -> dict:
        if crash:
            os.kill(os.getpid(), signal.SIGKILL)
        return {"steps": ["act"]}

    graph = StateGraph(State)
    graph.add_node("plan", plan)
    graph.add_node("act", act)
    if review:
        graph.add_node("review", human_review)
        graph.add_edge(START, "plan")
        graph.add_edge("plan", "review")
        graph.add_edge("review", "act")
    else:
        graph.add_edge(START, "plan")
        graph.add_edge("plan", "act")
    graph.add_edge("act", END)
    return graph.compile(checkpointer=saver)


def run(url: str, thread: str, phase: str) -> dict:
    config = {"configurable": {"thread_id": thread}}
    with StoreSaver.from_url(url) as saver:
        if phase == "start":
            result = build(saver).invoke({"steps": []}, config)
        elif phase == "resume":
            result = build(saver).invoke(Command(resume="yes"), config)
        elif phase == "crash":  # durability="sync": each step's checkpoint is stored before
            # the next step starts ("async", LangGraph's default, may still be writing it)
            graph = build(saver, crash=True, review=False)
            result = graph.invoke({"steps": []}, config, durability="sync")
        else:
            result = build(saver, review=False).invoke(None, config)
        graph = build(saver, review=phase in ("start", "resume"))
        state = graph.get_state(config)
        return {
            "steps": result.get("steps"),
            "next": list(state.next),
            "interrupts": [i.value for i in result.get("__interrupt__", [])],
        }


if __name__ == "__main__":
    print(json.dumps(run(*sys.argv[1:4])))
