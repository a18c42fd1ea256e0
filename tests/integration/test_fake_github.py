"""The fake GitHub (tests/fakes/fake_github.py) refuses what GitHub refuses,
and its helper class seeds and reads it: the C tracker's tests and the AFK
loop's tests rely on both."""
import http.client
import json
import os
import sys
import unittest

sys.path.insert(0, os.environ.get('CAS_FAKES_SRCDIR')
                or os.path.join(os.path.dirname(__file__), '..', 'fakes'))
import fake_github  # noqa: E402

REPO = 'octo/widgets'


class FakeGitHubTest(unittest.TestCase):
    def setUp(self):
        self.gh = fake_github.FakeGitHub().start()
        self.addCleanup(self.gh.stop)
        self.gh.add_repo(REPO, default_branch='trunk',
                         collaborators={'alice': 'admin', 'maud': 'maintain'})
        self.gh.add_issue(REPO, 1, title='one', labels=['ready'], labeled_by='alice')
        self.gh.add_issue(REPO, 2, title='pr', labels=['ready'], pull_request=True)
        self.gh.add_issue(REPO, 3, title='three', labels=['ready'])

    def call(self, method, path, body=None, token=None, user_agent='test/1'):
        conn = http.client.HTTPConnection('127.0.0.1', self.gh.port, timeout=30)
        headers = {}
        if token is not False:
            headers['Authorization'] = f'Bearer {token or self.gh.token}'
        if user_agent:
            headers['User-Agent'] = user_agent
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
            return resp.status, resp.headers, parsed
        finally:
            conn.close()

    def test_refuses_like_github(self):
        status, _, body = self.call('GET', f'/repos/{REPO}', token=False)
        self.assertEqual((status, body['message']), (401, 'Requires authentication'))
        status, _, body = self.call('GET', f'/repos/{REPO}', token='nope')
        self.assertEqual((status, body['message']), (401, 'Bad credentials'))
        status, _, body = self.call('GET', f'/repos/{REPO}', user_agent=None)
        self.assertEqual(status, 403)
        self.assertIn(b'User-Agent', body)
        self.assertEqual(self.call('GET', '/repos/octo/none')[0], 404)
        self.assertEqual(self.call('GET', f'/repos/{REPO}/issues/99')[0], 404)
        self.assertEqual(self.call('GET', f'/repos/{REPO}/issues?state=bogus')[0], 422)

    def test_bodies_checked(self):
        path = f'/repos/{REPO}/issues/1'
        self.assertEqual(self.call('POST', path + '/labels', b'{not json')[0], 400)
        self.assertEqual(self.call('POST', path + '/labels', {'labels': 'x'})[0], 422)
        self.assertEqual(self.call('POST', path + '/labels', {'labels': [1]})[0], 422)
        self.assertEqual(self.call('POST', path + '/comments', {'text': 'x'})[0], 422)
        self.assertEqual(self.call('PATCH', path, {'state': 'shut'})[0], 422)
        self.assertEqual(self.call('DELETE', path + '/labels/absent')[0], 404)
        status, _, labels = self.call('POST', path + '/labels', {'labels': ['in progress']})
        self.assertEqual(status, 200)
        self.assertIn('in progress', [x['name'] for x in labels])
        self.assertEqual(self.call('DELETE', path + '/labels/in%20progress')[0], 200)

    def test_pages_and_pull_requests(self):
        status, headers, page = self.call('GET', f'/repos/{REPO}/issues?labels=ready&per_page=100')
        self.assertEqual(status, 200)
        # per_page is capped at the fake's page size, 2.
        self.assertEqual([i['number'] for i in page], [3, 2])
        self.assertIn('pull_request', page[1])
        self.assertIn('rel="next"', headers['Link'])
        self.assertEqual(headers['X-RateLimit-Limit'], '5000')
        next_url = headers['Link'].split('>')[0].lstrip('<')
        status, headers, page = self.call('GET', next_url.split(str(self.gh.port), 1)[1])
        self.assertEqual([i['number'] for i in page], [1])
        self.assertNotIn('next', headers.get('Link', ''))

    def test_events_permissions_commits_checks(self):
        _, _, events = self.call('GET', f'/repos/{REPO}/issues/1/events')
        self.assertEqual([(e['event'], e['actor']['login'], e['label']['name']) for e in events],
                         [('labeled', 'alice', 'ready')])
        _, _, perm = self.call('GET', f'/repos/{REPO}/collaborators/maud/permission')
        self.assertEqual((perm['permission'], perm['role_name']), ('write', 'maintain'))
        self.assertEqual(self.call('GET', f'/repos/{REPO}/collaborators/eve/permission')[0], 404)
        self.gh.add_commit(REPO, 'trunk', 'abc123', 'fix\n\nAFK-Issue: #1', '2026-12-01T10:00:00Z')
        self.gh.set_check_runs(REPO, 'abc123', [{'name': 'ci', 'conclusion': 'success'}])
        _, _, commits = self.call('GET', f'/repos/{REPO}/commits?sha=trunk&since=2026-11-30T00:00:00Z')
        self.assertEqual([c['sha'] for c in commits], ['abc123'])
        _, _, commits = self.call('GET', f'/repos/{REPO}/commits?sha=trunk&since=2026-12-02T00:00:00Z')
        self.assertEqual(commits, [])
        self.assertEqual(self.call('GET', f'/repos/{REPO}/commits?since=yesterday')[0], 422)
        _, _, runs = self.call('GET', f'/repos/{REPO}/commits/abc123/check-runs')
        self.assertEqual(runs['total_count'], 1)
        self.assertEqual(runs['check_runs'][0]['conclusion'], 'success')

    def test_comments_and_close(self):
        status, _, comment = self.call('POST', f'/repos/{REPO}/issues/3/comments', {'body': 'hi'})
        self.assertEqual((status, comment['user']['login']), (201, 'afk-bot'))
        status, _, _ = self.call('PATCH', f'/repos/{REPO}/issues/comments/{comment["id"]}',
                                 {'body': 'edited'})
        self.assertEqual(status, 200)
        _, _, comments = self.call('GET', f'/repos/{REPO}/issues/3/comments')
        self.assertEqual([c['body'] for c in comments], ['edited'])
        self.assertEqual(self.call('PATCH', f'/repos/{REPO}/issues/3', {'state': 'closed'})[0], 200)
        issue = [i for i in self.gh.state()['repos'][REPO]['issues'] if i['number'] == 3][0]
        self.assertEqual(issue['state'], 'closed')

    def test_rate_limit_and_faults(self):
        self.gh.set_rate_limit({'status': 429, 'retry_after': 30})
        status, headers, _ = self.call('GET', f'/repos/{REPO}')
        self.assertEqual((status, headers['X-RateLimit-Remaining'], headers['Retry-After']),
                         (429, '0', '30'))
        self.gh.set_rate_limit(None)
        self.gh.add_fault(f'/repos/{REPO}', status=200, body='garbage {', times=1)
        self.assertEqual(self.call('GET', f'/repos/{REPO}')[2], b'garbage {')
        self.assertEqual(self.call('GET', f'/repos/{REPO}')[2]['default_branch'], 'trunk')

    def test_request_log(self):
        self.gh.clear_requests()
        self.call('POST', f'/repos/{REPO}/issues/3/labels', {'labels': ['x']})
        (entry,) = self.gh.requests()
        self.assertEqual(entry['method'], 'POST')
        self.assertEqual(entry['path'], f'/repos/{REPO}/issues/3/labels')
        self.assertEqual(entry['authorization'], f'Bearer {self.gh.token}')
        self.assertEqual(entry['user_agent'], 'test/1')
        self.assertEqual(json.loads(entry['body']), {'labels': ['x']})


if __name__ == '__main__':
    unittest.main()
