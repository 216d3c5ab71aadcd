"""The client a user writes from the vendor's curl example, as a whole program.

    python benchmarks/naive_client.py BASE_URL INPUT.txt OUTPUT.csv   (key: TGCHECK_API_KEY)

Reads one number a line, uploads them as one task, polls at a fixed interval,
downloads the result workbook, reads it with openpyxl and writes number,telegram
in the input's order. The baseline of figure 2: its whole process is measured,
imports included, as tgcheck's is.
"""

import csv
import io
import os
import sys
import time

import httpx
import openpyxl


def main(url: str, source: str, target: str, poll: float = 0.2) -> None:
    with open(source, encoding="utf-8") as f:
        phones = [line.strip() for line in f if line.strip()]
    headers = {"X-API-Key": os.environ["TGCHECK_API_KEY"]}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        body = ("\n".join(phones) + "\n").encode()
        task = client.post("/v1/tasks", files={"file": ("numbers.txt", body, "text/plain")},
                           data={"task_type": "tg"}).json()
        while True:
            time.sleep(poll)
            record = client.post("/v1/gettasks",
                                 files={"task_id": (None, task["task_id"])}).json()
            if record["status"] == "exported":
                break
        data = client.get(record["result_url"]).content
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    next(rows)
    answers = {str(n).strip(): str(v).strip().lower() for n, v in rows if n}
    with open(target, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("number", "telegram"))
        writer.writerows((p, answers.get(p, "")) for p in phones)


if __name__ == "__main__":
    main(*sys.argv[1:4])
