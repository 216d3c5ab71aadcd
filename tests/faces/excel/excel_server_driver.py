"""Runs tgcheck_udfs as xlwings Server would, in its own process (XLWINGS_ON_SERVER is
read when xlwings is imported). Prints one JSON object; tests/faces/excel/test_excel_server.py
starts it with the sandbox's address in the environment and checks the output.

Usage: python excel_server_driver.py SCENARIO '<json args>'
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

import xlwings as xw
from xlwings import server
from xlwings.pro import udfs_officejs

import tgcheck_udfs


def payload(func_name: str, args: list) -> dict:
    """What xlwings Server's custom-functions-code.js sends for one call."""
    return {
        "func_name": func_name,
        "args": args,
        "caller_address": "Office.js[tgcheck_demo.xlsx]Sheet1!B2",
        "content_language": "en-US",
        "version": xw.__version__,
        "client": "Office.js",
        "runtime": "1.4",
    }


class FakeSocketIO:
    """Collects what a streaming function emits; stands in for socketio.AsyncServer."""

    def __init__(self):
        self.results: list = []
        self.changed = asyncio.Event()

    async def emit(self, event: str, data: dict) -> None:
        self.results.append(data["result"])
        self.changed.set()

    async def wait_for(self, predicate, timeout: float = 30.0):
        async def loop():
            while True:
                found = next((r for r in self.results if predicate(r)), None)
                if found is not None:
                    return found
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(loop(), timeout)


def is_answers(result) -> bool:
    return len(result) > 1 or not str(result[0][0]).startswith(("pending", "error", "done"))


async def stream(func_name: str, args: list, *, cancel_after_progress: bool = False) -> dict:
    sio = FakeSocketIO()
    data = payload(func_name, args)
    data["task_key"] = f"{func_name}_{json.dumps(args)}"  # what the JS client derives
    await server.sio_custom_function_call("sid-1", data, tgcheck_udfs, None, sio)
    out: dict = {}
    if cancel_after_progress:
        await sio.wait_for(lambda r: str(r[0][0]).startswith("pending "))
        # What xlwings Server does when the cell is deleted or the workbook closed.
        cancelled = udfs_officejs.task_key_to_task[data["task_key"]]
        await server.sio_cancel_task("sid-1", data["task_key"])
        with contextlib.suppress(asyncio.CancelledError):
            await cancelled
        await asyncio.sleep(0)  # lets xlwings' done-callback untrack the cancelled task
        out["cancelled"] = cancelled.cancelled()
        out["before_restart"] = list(sio.results)
        sio = FakeSocketIO()
        await server.sio_custom_function_call("sid-2", data, tgcheck_udfs, None, sio)
    out["final"] = await sio.wait_for(is_answers)
    out["results"] = sio.results
    return out


async def main(scenario: str, args: list) -> dict:
    if scenario == "meta":
        return {"meta": server.custom_functions_meta(tgcheck_udfs),
                "scripts": server.custom_scripts_meta(tgcheck_udfs)}
    if scenario == "call":
        result = await server.custom_functions_call(payload("tg_check", args), tgcheck_udfs)
        return {"result": result}
    if scenario == "stream":
        return await stream("tg_check_live", args)
    if scenario == "restart":
        return await stream("tg_check_live", args, cancel_after_progress=True)
    if scenario == "exit_after_progress":
        # A server process that dies mid-task: its journal entry stays open.
        sio = FakeSocketIO()
        data = payload("tg_check_live", args)
        data["task_key"] = "tg_check_live_exit"
        await server.sio_custom_function_call("sid-1", data, tgcheck_udfs, None, sio)
        await sio.wait_for(lambda r: str(r[0][0]).startswith("pending "))
        print(json.dumps({"results": sio.results}), flush=True)
        os._exit(0)
    if scenario == "submit_serve":  # one worker of a server takes the range...
        key = await server.custom_functions_call(payload("tg_submit", args), tgcheck_udfs)
        print(json.dumps({"key": key}), flush=True)
        # ...and stays up while its check runs, as a server does (TG_CHECK joins it).
        return {"key": key, "result": await server.custom_functions_call(
            payload("tg_check", args), tgcheck_udfs)}
    if scenario == "watch":  # ...and another worker streams it by its key
        return await stream("tg_watch", args)
    if scenario == "submit_watch":
        key = await server.custom_functions_call(payload("tg_submit", args), tgcheck_udfs)
        watched = await stream("tg_watch", [key])
        return {"key": key, **watched}
    if scenario == "macro_fields":  # the check_selection script: its checker, on a sheet
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/
        from test_excel_macro import MemorySheet

        from tgcheck_udfs import server as face
        from tgcheck_udfs.macro import run_check_selection
        from tgcheck_udfs.selection import Selection

        nums = args[0]
        sheet = MemorySheet({(1, 1): "Numbers"} | {(i + 2, 1): n for i, n in enumerate(nums)})
        outcome = await asyncio.to_thread(run_check_selection, sheet,
                                          Selection(1, len(nums) + 1, 1),
                                          checker=face._checker_that_waits(30))
        return {"message": outcome.message,
                "cells": [[sheet.cells.get((r, c), "") for c in (2, 3)]
                          for r in range(1, len(nums) + 2)]}
    raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))))
