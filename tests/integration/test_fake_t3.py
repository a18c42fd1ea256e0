"""The fake T3 server (tests/fakes/fake_t3.py) refuses what the real one
refuses (reference/t3-contract.md): tests of CasT3Client are only as good
as this peer."""
import os
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fakes'))
from fake_t3_helper import FakeT3  # noqa: E402

DISPATCH = '/api/orchestration/dispatch'


class FakeT3Case(unittest.TestCase):
    shape = 'shell'

    def setUp(self):
        self.t3 = FakeT3(shape=self.shape, token='tok').start()
        self.addCleanup(self.t3.stop)
        self.tmp = tempfile.TemporaryDirectory(prefix='fake-t3-test-')
        self.addCleanup(self.tmp.cleanup)
        self.root = os.path.join(self.tmp.name, 'ws')
        os.mkdir(self.root)

    def assert_error(self, answer, status, tag, reason=None):
        self.assertEqual(answer[0], status, answer)
        self.assertEqual(answer[1]['_tag'], tag)
        if reason is not None:
            self.assertEqual(answer[1]['reason'], reason)


class AuthTest(FakeT3Case):
    def test_tokens_travel_as_the_contract_says(self):
        path = '/api/orchestration/snapshot'
        self.assert_error(self.t3.request('GET', path, token=False), 401,
                          'EnvironmentAuthInvalidError', 'missing_credential')
        self.assert_error(self.t3.request('GET', path, token='nope'), 401,
                          'EnvironmentAuthInvalidError', 'invalid_credential')
        self.assertEqual(self.t3.request('GET', path)[0], 200)
        # "Bearer " is case-sensitive; DPoP and the session cookie also carry it.
        self.assertEqual(self.t3.request('GET', path, headers={'Authorization': 'bearer tok'})[0], 401)
        self.assertEqual(self.t3.request('GET', path, headers={'Authorization': 'DPoP tok'})[0], 200)
        self.assertEqual(self.t3.request('GET', path, headers={'Cookie': 'a=b; t3_session=tok'})[0], 200)

    def test_scopes(self):
        self.t3.control('POST', 'tokens', {'tokens': {'tok': ['orchestration:read']}})
        self.assertEqual(self.t3.request('GET', '/api/orchestration/shell')[0], 200)
        status, body = self.t3.dispatch({'type': 'thread.delete', 'threadId': 't'})
        self.assertEqual(status, 403)
        self.assertEqual(body['requiredScope'], 'orchestration:operate')

    def test_environment_needs_no_token(self):
        status, body = self.t3.request('GET', '/.well-known/t3/environment', token=False)
        self.assertEqual(status, 200)
        self.assertEqual(body['serverVersion'], '0.0.33')


class DispatchTest(FakeT3Case):
    def test_schema_errors_are_400(self):
        for command in ({'projectId': 'p'}, {'type': 'thread.session.set', 'threadId': 't'},
                        {'type': 'thread.create', 'threadId': 't', 'projectId': 'p',
                         'title': 'x', 'modelSelection': {'instanceId': 'claudeAgent', 'model': 'm'},
                         'runtimeMode': 'full-access'},  # branch and worktreePath missing
                        {'type': 'thread.turn.start', 'threadId': 't', 'message': 'hi',
                         'runtimeMode': 'full-access', 'interactionMode': 'default'}):
            self.assert_error(self.t3.dispatch(command), 400, 'HttpApiSchemaError')
        status, _ = self.t3.request('POST', DISPATCH, None)
        self.assertEqual(status, 400)

    def test_business_rules_are_500_without_detail(self):
        project = self.t3.create_project(self.root)
        rejected = [
            {'type': 'project.create', 'projectId': 'p2', 'title': 't', 'workspaceRoot': self.root + '/'},
            {'type': 'project.create', 'projectId': project, 'title': 't', 'workspaceRoot': '/tmp'},
            {'type': 'thread.turn.start', 'threadId': 'missing',
             'message': {'messageId': 'm', 'role': 'user', 'text': 'x', 'attachments': []},
             'runtimeMode': 'full-access', 'interactionMode': 'default'},
            {'type': 'thread.create', 'threadId': 't', 'projectId': 'missing', 'title': 'x',
             'modelSelection': {'instanceId': 'claudeAgent', 'model': 'm'},
             'runtimeMode': 'full-access', 'branch': None, 'worktreePath': None},
            {'type': 'project.delete', 'projectId': 'missing'},
        ]
        for command in rejected:
            answer = self.t3.dispatch(command)
            self.assert_error(answer, 500, 'EnvironmentInternalError', 'orchestration_dispatch_failed')
            self.assertEqual(set(answer[1]), {'_tag', 'code', 'reason', 'traceId'})

    def test_missing_workspace_root_is_400(self):
        missing = os.path.join(self.tmp.name, 'missing')
        answer = self.t3.dispatch({'type': 'project.create', 'projectId': 'p', 'title': 't',
                                   'workspaceRoot': missing})
        self.assert_error(answer, 400, 'EnvironmentRequestInvalidError', 'invalid_command')
        self.assertFalse(os.path.exists(missing))

    def test_command_id_is_an_idempotency_key(self):
        command = {'type': 'project.create', 'commandId': 'c-1', 'projectId': 'p',
                   'title': 't', 'workspaceRoot': self.root}
        first = self.t3.dispatch(dict(command))
        self.assertEqual(first[0], 200)
        self.assertEqual(self.t3.dispatch(dict(command)), first)
        self.assertEqual(len(self.t3.state()['projects']), 1)
        # A rejected commandId stays rejected, even when it would now pass.
        bad = {'type': 'thread.delete', 'commandId': 'c-2', 'threadId': 't'}
        self.assertEqual(self.t3.dispatch(dict(bad))[0], 500)
        self.assertEqual(self.t3.dispatch(dict(bad))[0], 500)

    def test_turn_ids_are_minted_by_the_server(self):
        project = self.t3.create_project(self.root)
        thread = self.t3.create_thread(project)
        self.assertEqual(self.t3.start_turn(thread, 'hi')[0], 200)
        shell = self.t3.request('GET', '/api/orchestration/shell')[1]
        self.assertIsNone(shell['threads'][0]['latestTurn'])
        turn = self.t3.move_turn(thread, 'running')['turnId']
        self.t3.move_turn(thread, 'completed')
        latest = self.t3.request('GET', '/api/orchestration/shell')[1]['threads'][0]['latestTurn']
        self.assertEqual(latest['turnId'], turn)
        self.assertEqual(latest['state'], 'completed')
        # No second turn without a second turn start.
        status, _ = self.t3.request('POST', '/_fake/threads/%s/turn' % thread, {'state': 'running'})
        self.assertEqual(status, 409)


class ShellTest(FakeT3Case):
    def test_shell_hides_archived_threads_and_carries_flags(self):
        project = self.t3.create_project(self.root)
        kept = self.t3.create_thread(project)
        archived = self.t3.create_thread(project)
        self.assertEqual(self.t3.dispatch({'type': 'thread.archive', 'threadId': archived})[0], 200)
        self.t3.add_user_input(kept)
        threads = self.t3.request('GET', '/api/orchestration/shell')[1]['threads']
        self.assertEqual([t['id'] for t in threads], [kept])
        self.assertTrue(threads[0]['hasPendingUserInput'])
        self.assertFalse(threads[0]['hasPendingApprovals'])
        # The lightweight snapshot of v0.0.32+ has no activities.
        snapshot = self.t3.request('GET', '/api/orchestration/snapshot')[1]
        self.assertEqual(len(snapshot['threads']), 2)
        self.assertEqual(snapshot['threads'][0]['activities'], [])

    def test_thread_detail(self):
        project = self.t3.create_project(self.root)
        thread = self.t3.create_thread(project)
        status, body = self.t3.request('GET', '/api/orchestration/threads/' + thread)
        self.assertEqual(status, 200)
        self.assertEqual(body['thread']['id'], thread)
        self.assert_error(self.t3.request('GET', '/api/orchestration/threads/nope'), 404,
                          'EnvironmentResourceNotFoundError', 'thread_not_found')


class OldShapeTest(FakeT3Case):
    shape = 'snapshot'

    def test_only_snapshot_and_dispatch(self):
        self.assertEqual(self.t3.request('GET', '/api/orchestration/shell')[0], 404)
        self.assertEqual(self.t3.request('GET', '/api/orchestration/threads/x')[0], 404)
        project = self.t3.create_project(self.root)
        thread = self.t3.create_thread(project)
        self.t3.add_approval(thread)
        snapshot = self.t3.request('GET', '/api/orchestration/snapshot')[1]
        kinds = [a['kind'] for a in snapshot['threads'][0]['activities']]
        self.assertEqual(kinds, ['approval.requested'])
        self.assertNotIn('hasPendingApprovals', snapshot['threads'][0])

    def test_client_created_at_is_trusted(self):
        project = self.t3.create_project(self.root)
        thread = self.t3.create_thread(project)
        self.t3.dispatch({'type': 'thread.turn.start', 'threadId': thread,
                          'createdAt': '2020-01-01T00:00:00.000Z',
                          'message': {'messageId': str(uuid.uuid4()), 'role': 'user', 'text': 'x',
                                      'attachments': []},
                          'runtimeMode': 'full-access', 'interactionMode': 'default'})
        self.t3.move_turn(thread, 'running')
        latest = self.t3.request('GET', '/api/orchestration/snapshot')[1]['threads'][0]['latestTurn']
        self.assertEqual(latest['requestedAt'], '2020-01-01T00:00:00.000Z')


class ControlTest(FakeT3Case):
    def test_faults_and_request_log(self):
        self.t3.fault('/api/orchestration/shell', 'garbage', times=1)
        self.assertEqual(self.t3.request('GET', '/api/orchestration/shell'), (200, None))
        self.assertEqual(self.t3.request('GET', '/api/orchestration/shell')[0], 200)
        self.t3.fault('/api/orchestration/shell', 'json', status=503, body={'x': 1})
        self.assertEqual(self.t3.request('GET', '/api/orchestration/shell'), (503, {'x': 1}))
        self.t3.clear_faults()
        requests = self.t3.requests()
        self.assertEqual(len(requests), 3)
        self.assertEqual(requests[0]['headers']['Authorization'], 'Bearer tok')


if __name__ == '__main__':
    unittest.main()
