#!/usr/bin/python3
"""Time to first render of the console's pages in headless Chromium (Selenium + chromedriver).

Starts bench_console_fixture (the console's real server and pages over a snapshot of the given
size), signs in, then loads each page `runs` times in a fresh navigation and reports the time from
navigation start until the page's content is in the DOM (the rollout page: every check chart
drawn; the fleet page: the first 100 rows and the count of all hosts), as median and max.

Usage: render_bench.py FIXTURE [runs=5] [hosts=10000] [checks=8] [looks=30] [stages=4]
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main():
    fixture = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    hosts, checks, looks, stages = (sys.argv[3:7] + ['10000', '8', '30', '4'][len(sys.argv[3:7]):])
    port = free_port()
    proc = subprocess.Popen([fixture, hosts, checks, looks, stages], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, CONSOLE_PORT=str(port)))
    url = proc.stdout.readline().strip()
    token = proc.stdout.readline().strip()
    profile = tempfile.mkdtemp(prefix='rollgate-bench-chromium')
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-dev-shm-usage', '--window-size=1400,1000', '--user-data-dir=' + profile):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
    wait = WebDriverWait(driver, 300, poll_frequency=0.05)
    try:
        driver.get(url)
        wait.until(lambda d: d.find_element(By.ID, 'token').is_displayed())
        driver.find_element(By.ID, 'token').send_keys(token)
        driver.find_element(By.ID, 'sign-in').click()
        wait.until(lambda d: d.find_element(By.ID, 'who').text.startswith('bench'))
        expected_charts = int(checks) * int(stages)
        pages = {
            'rollout page (%s checks x %s looks x %s stages)' % (checks, looks, stages):
                ('#/rollout/r1', "return document.querySelectorAll('#charts .chart svg').length === %d"
                 " ? performance.now() : null" % (expected_charts * 3)),
            'fleet page (%s hosts)' % hosts:
                ('#/fleet', "const c = document.getElementById('host-count');"
                 "return document.querySelectorAll('#hosts tbody tr').length === %d && c &&"
                 " c.textContent.includes(' of %s hosts') ? performance.now() : null"
                 % (min(100, int(hosts)), hosts)),
        }
        for name, (fragment, probe) in pages.items():
            times = []
            for _ in range(runs):
                driver.get('about:blank')
                driver.get(url + fragment)
                done = wait.until(lambda d: d.execute_script(probe))
                times.append(done)
            print('%s: first render median %.0f ms, max %.0f ms over %d loads' %
                  (name, statistics.median(times), max(times), runs), flush=True)
    finally:
        driver.quit()
        proc.stdin.close()
        proc.wait()


if __name__ == '__main__':
    main()
