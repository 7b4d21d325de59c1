#!/usr/bin/python3
"""Opens TABS console tabs on a page, each signed in and live, and keeps them open until stdin
closes. Prints "ready" when every tab shows the page.

A browser opens at most 6 connections to one host over HTTP/1.1 and each live tab holds one (its
event stream), so the tabs are spread over several headless Chromium processes, 4 tabs each, as
the browsers of several operators would be.

Usage: watch_tabs.py URL TOKEN FRAGMENT TABS PROFILE_DIR
"""
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TABS_PER_BROWSER = 4


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-dev-shm-usage', '--disable-background-timer-throttling',
                 '--disable-renderer-backgrounding', '--user-data-dir=' + profile):
        options.add_argument(flag)
    options.set_capability('acceptInsecureCerts', True)
    return webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)


def open_tabs(driver, url, token, fragment, tabs):
    wait = WebDriverWait(driver, 120, poll_frequency=0.2)
    driver.get(url)
    wait.until(lambda d: d.find_element(By.ID, 'token').is_displayed())
    driver.find_element(By.ID, 'token').send_keys(token)
    driver.find_element(By.ID, 'sign-in').click()
    wait.until(lambda d: d.find_element(By.ID, 'who').text != '')
    for i in range(tabs):
        if i > 0:
            driver.switch_to.new_window('tab')
        driver.get(url + fragment)
        wait.until(lambda d: d.execute_script(
            "return document.querySelector('#view > div[data-version]') !== null"))


def main():
    url, token, fragment, tabs, profile = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    drivers = []
    try:
        left = tabs
        while left > 0:
            n = min(TABS_PER_BROWSER, left)
            drivers.append(browser(os.path.join(profile, str(len(drivers)))))
            open_tabs(drivers[-1], url, token, fragment, n)
            left -= n
        print('ready', flush=True)
        sys.stdin.read()
    finally:
        for driver in drivers:
            driver.quit()


if __name__ == '__main__':
    main()
