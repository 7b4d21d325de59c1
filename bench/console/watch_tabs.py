#!/usr/bin/python3
"""Opens TABS tabs of one headless Chromium on a console page, each signed in and live, and keeps
them open until stdin closes. Prints "ready" when every tab shows the page.

Usage: watch_tabs.py URL TOKEN FRAGMENT TABS PROFILE_DIR
"""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    url, token, fragment, tabs, profile = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-dev-shm-usage', '--disable-background-timer-throttling',
                 '--disable-renderer-backgrounding', '--user-data-dir=' + profile):
        options.add_argument(flag)
    options.set_capability('acceptInsecureCerts', True)
    driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
    wait = WebDriverWait(driver, 120, poll_frequency=0.2)
    try:
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
        print('ready', flush=True)
        sys.stdin.read()
    finally:
        driver.quit()


if __name__ == '__main__':
    main()
