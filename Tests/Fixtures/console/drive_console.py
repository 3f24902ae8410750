#!/usr/bin/env python3
"""Drives the host's web console in Debian's headless Chromium through chromedriver (Selenium),
as a person would: click a module's method in the list, choose an example in the drop-down,
click Run, wait for the answer; then opens a shared link that runs a call by itself.

    drive_console.py BASE_URL ARTIFACT_DIR PLAN_JSON

PLAN_JSON: {"clicks": [{"module", "method", "example", "screenshot"}...],
            "links": [{"query", "screenshot"}...]}
Prints one JSON object: for each step, the status line, the editor's request, the example
names offered, the result's HTML and the screenshot's path. Exits 1 with the reason when a step
does not reach an answer.
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # Root needs --no-sandbox; the development certificate is not in the browser's store.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--ignore-certificate-errors",
                 "--window-size=1300,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def answered(driver):
    """The status line once the page shows an answer (it reads "running…" while the call runs)."""
    text = driver.find_element(By.ID, "status").text
    return text if text.startswith("HTTP") else False


def state(driver, artifacts, screenshot):
    path = f"{artifacts}/{screenshot}"
    driver.save_screenshot(path)
    chooser = Select(driver.find_element(By.ID, "example"))
    return {
        "status": driver.find_element(By.ID, "status").text,
        "request": driver.find_element(By.ID, "request").get_property("value"),
        "examples": [option.get_attribute("value") for option in chooser.options],
        "chosen": chooser.first_selected_option.get_attribute("value") if chooser.options else None,
        "result": driver.find_element(By.ID, "result").get_attribute("innerHTML"),
        "screenshot": path,
    }


def main(base, artifacts, plan):
    driver = browser()
    wait = WebDriverWait(driver, 60)
    results = {"clicks": [], "links": []}
    try:
        driver.get(base + "/")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "nav a[data-path]"))
        for step in plan.get("clicks", []):
            driver.find_element(By.CSS_SELECTOR, f'nav a[data-path="/v1/{step["module"]}/{step["method"]}"]').click()
            if step.get("example"):
                Select(driver.find_element(By.ID, "example")).select_by_value(step["example"])
            driver.find_element(By.ID, "run").click()
            wait.until(answered)
            results["clicks"].append(state(driver, artifacts, step["screenshot"]))
        for step in plan.get("links", []):
            driver.get(base + "/?" + step["query"])
            wait.until(answered)
            results["links"].append(state(driver, artifacts, step["screenshot"]))
    except Exception as error:  # the page did not get there: say where
        print(json.dumps({"error": f"{type(error).__name__}: {error}", "so_far": results}))
        sys.exit(1)
    finally:
        driver.quit()
    print(json.dumps(results))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
