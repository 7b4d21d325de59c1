#!/usr/bin/python3
"""The console in Chromium (headless), driven through chromedriver by Selenium.

Run by it_console_browser against a real coordinator: signs in with an operator token, watches a
running rollout update live (server-sent events, no reload), checks a rolled-back rollout's
failing check chart, aborts the live rollout from the page and waits until every host has
acknowledged, checks that event messages and a freeze reason holding HTML and script are shown
as text, that the freeze banner is on every page, and that a viewer's action is refused (403).
Checks the rolled-back rollout's label, the page of a backtest run from the CLI (--backtest: its
per-check tables and the changed rollouts with links to their pages) and runs one from the page.
Saves a screenshot of each page to --screenshots (and, with --docs, the ones the README shows).
Exits non-zero, naming the step, when anything is not as expected.
"""
import argparse
import os
import shutil
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-dev-shm-usage', '--window-size=1400,1000',
                 '--user-data-dir=' + profile):
        options.add_argument(flag)
    options.set_capability('acceptInsecureCerts', True)  # the console's self-signed certificate
    return webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)


class Check:
    def __init__(self, args):
        self.args = args
        self.driver = browser(args.profile)
        # A live update redraws the page: an element found a moment ago may be gone; ask again.
        self.wait = WebDriverWait(self.driver, 120, poll_frequency=0.2,
                                  ignored_exceptions=[NoSuchElementException,
                                                      StaleElementReferenceException])

    def step(self, text):
        print('step:', text, flush=True)

    def shot(self, name, docs=False):
        path = os.path.join(self.args.screenshots, name)
        self.driver.save_screenshot(path)
        if docs and self.args.docs:
            shutil.copyfile(path, os.path.join(self.args.docs, 'console-' + name))

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def until(self, what, condition):
        try:
            return self.wait.until(lambda d: condition())
        except Exception as error:
            self.shot('failed.png')
            raise AssertionError('timed out waiting for ' + what) from error

    def click(self, element_id):
        """Clicks #element_id; a live update may replace it between finding and clicking, so it
        is found again until the click lands."""
        def attempt():
            self.driver.find_element(By.ID, element_id).click()
            return True
        self.until('a click on #' + element_id, attempt)

    def not_pwned(self):
        pwned = self.js('return window.__pwned === undefined ? null : window.__pwned')
        assert pwned is None, 'a value from the server ran as script (window.__pwned = %r)' % pwned

    def sign_in(self, token, who):
        self.driver.get(self.args.url)
        self.until('the sign-in form', lambda: self.driver.find_element(By.ID, 'token').is_displayed())
        self.driver.find_element(By.ID, 'token').send_keys(token)
        self.click('sign-in')
        self.until('signed in as ' + who, lambda: self.driver.find_element(By.ID, 'who').text == who)

    def open(self, fragment, ready):
        self.driver.get(self.args.url + fragment)
        self.until(fragment, ready)

    def confirm(self, reason=None):
        self.until('the confirmation', lambda: self.driver.find_element(By.ID, 'confirm').is_displayed())
        if reason is not None:
            self.driver.find_element(By.ID, 'confirm-reason').send_keys(reason)
        self.click('confirm-yes')

    def notice(self):
        return self.driver.find_element(By.ID, 'notice').text

    def rollout_version(self):
        return self.js("const v = document.querySelector('#view > div[data-version]');"
                       "return v ? Number(v.getAttribute('data-version')) : 0")

    def run(self):
        a = self.args
        self.step('sign in as an operator')
        self.sign_in(a.operator_token, 'olga (operator)')
        self.shot('rollouts.png')

        self.step('watch the live rollout update without a reload')
        self.open('#/rollout/' + a.live, lambda: self.rollout_version() > 0)
        self.js('window.__sameDocument = true')
        first = self.rollout_version()
        self.until('a live update', lambda: self.rollout_version() > first)
        second = self.rollout_version()
        self.until('another live update', lambda: self.rollout_version() > second)
        assert self.js('return window.__sameDocument === true'), 'the page was reloaded'
        self.until('the live rollout charts', lambda: len(self.driver.find_elements(By.CSS_SELECTOR, '#charts .chart svg')) > 0)
        self.shot('rollout-live.png')

        self.step('see the failing check chart of the rolled-back rollout')
        self.open('#/rollout/' + a.failed, lambda: self.rollout_version() > 0)
        # Read in one script: a live update may redraw the page between two driver calls.
        failing = self.js("return [...document.querySelectorAll('#charts .chart.failing')].map(c =>"
                          " ({check: c.getAttribute('data-check'),"
                          "   lines: c.querySelectorAll('polyline').length,"
                          "   points: c.querySelectorAll('circle').length}))")
        assert failing, 'no failing check chart on the rolled-back rollout'
        names = [c['check'] for c in failing]
        assert 'http_5xx' in names, 'failing charts: %r' % names
        chart = [c for c in failing if c['check'] == 'http_5xx'][0]
        # Each look draws a point for the canary, the comparison and the p-value (and the effect
        # when it has one); a series is joined by a line once it has two looks, and the effect
        # floor is a line from the first look. A rollout that failed at its first look (the
        # machine was slow) has one look to show.
        assert chart['points'] >= 3 and chart['lines'] >= 1, \
            'the chart draws %d points and %d lines' % (chart['points'], chart['lines'])
        if chart['points'] >= 8:
            assert chart['lines'] >= 4, 'the chart draws %d lines over two looks or more' % chart['lines']
        decision = self.js("return document.getElementById('decision').textContent")
        assert 'Rolled back' in decision, decision
        label = self.js("const l = document.getElementById('label');"
                        "return l ? [l.getAttribute('data-label'), l.textContent] : null")
        assert label and label[0] == 'bad', 'label on the rolled-back rollout: %r' % label
        assert 'auto: rolled back by critical check' in label[1], label[1]
        self.driver.execute_script('window.scrollTo(0, 0)')
        self.shot('rollout-failed.png', docs=True)

        self.step('the backtest run from the CLI: its page, its tables and its changed rollouts')
        row = "#backtests tr[data-backtest='%s']" % a.backtest
        self.open('#/backtests', lambda: self.driver.find_elements(By.CSS_SELECTOR, row))
        self.until('the run done', lambda: self.driver.find_element(By.CSS_SELECTOR, row).get_attribute('data-status') == 'done')
        self.driver.find_element(By.CSS_SELECTOR, row + ' a').click()
        self.until('the run page', lambda: self.driver.find_elements(By.CSS_SELECTOR, '#backtest-checks tbody tr'))
        tables = self.js("""
            const rows = (id) => [...document.querySelectorAll('#' + id + ' tbody tr')].map(r =>
              [r.getAttribute('data-check'), ...[...r.children].map(c => c.textContent)]);
            return {now: rows('backtest-checks'), then: rows('backtest-checks-then'),
                    changed: [...document.querySelectorAll('#backtest-changed tbody tr')].map(r =>
                      [r.getAttribute('data-rollout'), r.querySelector('a') ? r.querySelector('a').getAttribute('href') : null,
                       r.textContent])};""")
        now = {r[0]: r for r in tables['now']}
        then = {r[0]: r for r in tables['then']}
        assert set(now) == {'restarts', '(gates)'}, 'checks now: %r' % list(now)
        assert 'http_5xx' in then and '(gates)' in then, 'checks as they ran: %r' % list(then)
        # As they ran the gates flagged the bad build (a true positive); restarts alone do not
        # (a false negative).
        assert int(then['(gates)'][3]) >= 1, then['(gates)']
        assert int(now['(gates)'][5]) >= 1, now['(gates)']
        changed = [c for c in tables['changed'] if c[0] == a.failed]
        assert changed, 'the rolled-back rollout is not among the changed: %r' % tables['changed']
        assert changed[0][1] == '#/rollout/' + a.failed, changed[0]
        assert 'roll_back' in changed[0][2], changed[0]
        self.not_pwned()
        self.driver.execute_script('window.scrollTo(0, 0)')
        self.shot('backtest.png', docs=True)
        self.driver.find_element(By.CSS_SELECTOR, "#backtest-changed tr[data-rollout='%s'] a" % a.failed).click()
        self.until('the changed rollout\'s page', lambda: a.failed in self.driver.find_element(By.ID, 'rollout-title').text)

        self.step('run a backtest from the page')
        self.open('#/backtests', lambda: self.driver.find_elements(By.ID, 'backtest-run'))
        before = self.js("return document.querySelectorAll('#backtests tbody tr').length")
        self.click('backtest-run')
        self.until('the new run', lambda: self.js(
            "const r = document.querySelector('#backtests tbody tr');"
            "return document.querySelectorAll('#backtests tbody tr').length > arguments[0] &&"
            " r.getAttribute('data-status') === 'done' && r.textContent.includes('olga')", before))
        assert 'refused' not in self.notice(), self.notice()
        self.shot('backtests.png')

        self.step('abort the live rollout from its page')
        self.open('#/rollout/' + a.live, lambda: self.rollout_version() > 0)
        self.click('abort')
        self.confirm('console test ' + PAYLOAD)
        self.until('the abort answer', lambda: self.notice() != '' and not self.notice().startswith('working'))
        assert 'refused' not in self.notice(), self.notice()

        acks = ("return [...document.querySelectorAll('table.acks tr[data-acked]')].map(r =>"
                " [r.getAttribute('data-host'), r.getAttribute('data-acked')])")
        self.until('every host to acknowledge the abort',
                   lambda: (lambda rows: rows and all(a == 'yes' for _, a in rows))(self.js(acks)))
        print('acknowledged by', [h for h, _ in self.js(acks)], flush=True)
        self.until('the aborted status', lambda: 'aborted' in self.driver.find_element(By.ID, 'rollout-title').text)
        heading = self.js("return document.querySelector('h3.abort').textContent")
        assert PAYLOAD in heading, 'the abort reason is not shown as text: %r' % heading
        assert not self.driver.find_elements(By.CSS_SELECTOR, '#view img, #view script'), 'HTML from the server became elements'
        self.not_pwned()
        self.shot('rollout-aborted.png', docs=True)

        self.step('freeze with HTML in the reason: a text banner on every page')
        self.open('#/rollouts', lambda: self.driver.find_elements(By.ID, 'freeze'))
        self.click('freeze')
        self.confirm(PAYLOAD + ' <b>maintenance</b>')
        banner = lambda: self.driver.find_element(By.ID, 'freeze-banner')
        self.until('the freeze banner', lambda: banner().is_displayed())
        assert PAYLOAD in banner().text and '<b>maintenance</b>' in banner().text, banner().text
        assert self.js("return document.getElementById('freeze-banner').children.length") == 0
        for fragment in ('#/fleet', '#/rollout/' + a.failed):
            self.open(fragment, lambda: banner().is_displayed() and 'olga' in banner().text)
        self.open('#/fleet', lambda: len(self.driver.find_elements(By.CSS_SELECTOR, '#hosts tbody tr')) == 6)
        self.not_pwned()
        self.shot('fleet.png', docs=True)
        self.open('#/rollouts', lambda: self.driver.find_elements(By.ID, 'unfreeze'))
        self.click('unfreeze')
        self.confirm()
        self.until('the banner to go', lambda: not banner().is_displayed())
        self.shot('rollouts-list.png', docs=True)

        self.step('a viewer is refused an action')
        self.click('sign-out')
        self.until('the sign-in form', lambda: self.driver.find_element(By.ID, 'token').is_displayed())
        self.sign_in(a.viewer_token, 'vera (viewer)')
        self.open('#/rollouts', lambda: self.driver.find_elements(By.ID, 'freeze'))
        self.click('freeze')
        self.confirm('a viewer tries')
        self.until('the refusal', lambda: 'refused (403)' in self.notice())
        assert not banner().is_displayed(), 'a viewer froze rollouts'
        self.shot('viewer-refused.png')
        self.not_pwned()
        print('ok', flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ('--url', '--operator-token', '--viewer-token', '--failed', '--live',
                 '--backtest', '--screenshots', '--profile'):
        parser.add_argument(name, required=True)
    parser.add_argument('--docs', help='also copy the README screenshots here')
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    check = Check(args)
    try:
        check.run()
    except AssertionError as error:
        print('FAILED:', error, file=sys.stderr, flush=True)
        return 1
    finally:
        check.driver.quit()
    return 0


if __name__ == '__main__':
    sys.exit(main())
