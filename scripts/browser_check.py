#!/usr/bin/env python3
"""Drives the dashboard in headless Chromium as a user would, against a fresh `cllm serve`:
open it, start a short training run from the form, watch the curve grow, stop the run, chat
with the model and see tokens stream, open the lattice page. Screenshots go to docs/screenshots/.

    swift build -c release && python3 scripts/browser_check.py [--cllm .build/release/cllm]

Needs Debian's chromium and chromium-driver and `pip install selenium`; without them it says so
and exits 0. Exit status 1 if any step fails."""
import argparse
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

root = pathlib.Path(__file__).resolve().parent.parent
parser = argparse.ArgumentParser()
parser.add_argument("--cllm", default=str(root / ".build/release/cllm"))
parser.add_argument("--screenshots", default=str(root / "docs/screenshots"))
args = parser.parse_args()

chromedriver = shutil.which("chromedriver")
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait, Select
except ImportError:
    print("skipped: selenium is not installed (pip install selenium)")
    sys.exit(0)
if not chromedriver or not chromium:
    print("skipped: chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    sys.exit(0)

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
work = pathlib.Path(tempfile.mkdtemp(prefix="cllm-browser-"))
models = work / "models"
models.mkdir()
# A small model to chat with, trained in a few seconds.
subprocess.run([args.cllm, "train", "--max-steps", "60", "--eval-interval", "30", "--eval-iters", "2", "--sample-tokens", "0",
                "--out", str(models / "default")], check=True, cwd=root, stdout=subprocess.DEVNULL)
started = time.perf_counter()
server = subprocess.Popen([args.cllm, "serve", "--port", str(port), "--models", str(models)], cwd=root,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
line = server.stdout.readline()
print(f"server up in {1000 * (time.perf_counter() - started):.0f} ms: {line.strip()}")
url = f"http://127.0.0.1:{port}/"
shots = pathlib.Path(args.screenshots)
shots.mkdir(parents=True, exist_ok=True)

options = webdriver.ChromeOptions()
options.binary_location = chromium
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000"]:
    options.add_argument(flag)
os.environ.setdefault("SE_OFFLINE", "true")
driver = webdriver.Chrome(service=Service(chromedriver), options=options)
wait = WebDriverWait(driver, 60)
failures = []

def step(name, check):
    try:
        check()
        print(f"[PASS] {name}")
    except Exception as e:  # noqa: BLE001 - report any failure and go on
        failures.append(name)
        print(f"[FAIL] {name}: {type(e).__name__}: {e}")

def shot(name, theme=None):
    if theme:
        driver.execute_script(f"document.documentElement.dataset.theme = '{theme}'; chart.draw();")
    driver.save_screenshot(str(shots / f"{name}.png"))

try:
    driver.get(url)
    step("the dashboard opens and lists the model's run",
         lambda: wait.until(lambda d: "default" in d.find_element(By.CSS_SELECTOR, "#runs-table").text))

    def start_run():
        form = driver.find_element(By.ID, "run-form")
        form.find_element(By.NAME, "name").send_keys("browser-run")
        for key, value in [("max_steps", "100000"), ("eval_interval", "25"), ("eval_iters", "2")]:
            field = form.find_element(By.NAME, key)
            field.clear()
            field.send_keys(value)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: "running" in d.find_element(By.CSS_SELECTOR, "#runs-table").text)
    step("start a training run from the form", start_run)

    def curve_grows():
        count = lambda: driver.execute_script("return (state.metrics['browser-run'] || []).length")
        wait.until(lambda d: count() > 5)
        first = count()
        time.sleep(2)
        assert count() > first, f"no new steps: {first} -> {count()}"
        shot("train-light", "light")
        shot("train-dark", "dark")
    step("the curve grows with live events", curve_grows)

    last_error = [None]
    def stop_run():
        def click_stop(d):  # the table is redrawn as events arrive: find the button afresh each try
            try:
                row = [r for r in d.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr") if "browser-run" in r.text][0]
                row.find_element(By.XPATH, ".//button[text()='stop']").click()
                return True
            except Exception as e:  # noqa: BLE001 - stale element, retry
                last_error[0] = e
                return False
        try:
            WebDriverWait(driver, 20).until(click_stop)
        except Exception:
            raise AssertionError(f"could not click stop: {last_error[0]!r:.300}")
        try:
            wait.until(lambda d: "stopped" in d.find_element(By.CSS_SELECTOR, "#runs-table").text)
        except Exception:
            shot("failed-stop")
            raise AssertionError("runs table: " + driver.find_element(By.CSS_SELECTOR, "#runs-table").text)
        assert (models / "browser-run" / "checkpoint.safetensors").exists()
    step("stop the run (checkpoint written)", stop_run)

    def chat():
        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=chat]").click()
        wait.until(lambda d: len(Select(d.find_element(By.ID, "chat-model")).options) > 0)
        Select(driver.find_element(By.ID, "chat-model")).select_by_value("default")
        box = driver.find_element(By.ID, "chat-input")
        box.send_keys("How fares the king?")
        driver.find_element(By.ID, "chat-send").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant .meta"))
        meta = driver.find_element(By.CSS_SELECTOR, ".msg.assistant .meta").text
        assert "tokens/s" in meta, meta
        chunks = int(meta.split(" chunks")[0].split()[-1])
        assert chunks > 5, f"the reply came in {chunks} chunk(s), not streamed"
        print(f"       reply: {meta}")
        shot("chat-dark", "dark")
    step("chat with the model, reply streamed with tokens/s", chat)

    def lattice():
        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=lattice]").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#lattice svg rect"))
        shot("lattice-light", "light")
        Select(driver.find_element(By.ID, "lattice-view")).select_by_value("tokens")
        wait.until(lambda d: "id 0," in d.find_element(By.ID, "lattice").get_attribute("innerHTML"))
    step("the lattice page draws the Ulam spiral and a model's tokens", lattice)

    def models_page():
        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=models]").click()
        wait.until(lambda d: "browser-run" in d.find_element(By.ID, "models-table").text)
        shot("models-light", "light")
    step("the models page lists the trained models", models_page)
finally:
    driver.quit()
    server.terminate()
    server.wait(timeout=10)
    shutil.rmtree(work, ignore_errors=True)

print(f"screenshots in {shots}")
print(f"{6 - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
