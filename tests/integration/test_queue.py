"""One bound on waiting requests, whatever route they came by: the queue
depth counts a conversation's turns waiting behind an earlier one, the
bytes waiting requests hold are bounded, and a burst of large bodies
leaves no lasting memory behind."""
import json
import socket

from cas_harness import (DaemonTestCase, TOKEN, close_stream, needs_plain_memory,
                         wait_for)

CONV = '/v1/conversational'
CHAT = '/v1/chat/completions'
SID = '8c3f5a1e-2b7d-4e9a-a6c4-91d0e7f3b25a'
SID2 = '3b0c9d2a-7e41-4f8b-9c55-0a1d2e3f4b6c'
SID3 = 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b'


class QueueTestCase(DaemonTestCase):

    def health(self):
        return self.request('GET', '/health', token=None).json()

    def send_waiting(self, path, body):
        """Sends a request whose answer is not read yet: it waits in the
        daemon. Returns the socket; closing it is the client going away."""
        data = json.dumps(body).encode()
        sock = socket.create_connection(('127.0.0.1', self.port))
        self.addCleanup(sock.close)
        sock.sendall(b'POST ' + path.encode() + b' HTTP/1.1\r\nHost: x\r\n'
                     b'Authorization: Bearer ' + TOKEN.encode() + b'\r\n'
                     b'Content-Type: application/json\r\n'
                     b'Content-Length: ' + str(len(data)).encode() + b'\r\n\r\n' + data)
        return sock

    def hold_one_run(self):
        """A conversation's turn that runs (and hangs) in the one slot."""
        self.set_scenario(hang=1)
        conn, resp = self.open_stream(CONV, {'session_id': SID, 'message': 'hold',
                                             'stream': True})
        self.addCleanup(close_stream, conn, resp)
        self.assertEqual(resp.status, 200)
        wait_for(lambda: self.health()['active'] == 1, 10, 'the first turn to run')
        return conn, resp

    def assert_queue_full(self, resp):
        self.assertEqual(resp.status, 503, resp.body)
        self.assertEqual(resp.json()['error']['code'], 'queue_full')


class DepthTest(QueueTestCase):
    config = {'claude': {'max-concurrency': '1', 'max-queue-depth': '2'}}

    def test_lane_waiters_count_toward_the_depth_on_every_route(self):
        conn, resp = self.hold_one_run()
        # A second turn of the same conversation waits in its lane: it
        # holds the one place in the queue, and /health says so.
        waiter = self.send_waiting(CONV, {'session_id': SID, 'message': 'behind'})
        wait_for(lambda: self.health()['queued'] == 1, 10, 'the lane waiter to be counted')

        # Other conversations (and a turn behind the waiter), chat and
        # jobs find the queue full.
        for sid in (SID2, SID3, SID):
            self.assert_queue_full(self.request('POST', CONV, {'session_id': sid,
                                                               'message': 'hi'}))
        self.assert_queue_full(self.request(
            'POST', CHAT, {'messages': [{'role': 'user', 'content': 'hi'}]}))
        job = self.request('POST', '/execute', {'prompt': 'x', 'agent': 'workspace'})
        self.assertEqual(job.status, 429, job.body)
        self.assertEqual(job.json()['error'], 'too_many_requests')
        health = self.health()
        self.assertEqual((health['active'], health['queued']), (1, 1))
        self.assertEqual(len(self.fake_runs()), 1)

        # Its client gone, the waiter gives its place back.
        waiter.close()
        wait_for(lambda: self.health()['queued'] == 0, 10, 'the place to be given back')
        close_stream(conn, resp)
        self.assert_no_children()


class BytesTest(QueueTestCase):
    config = {'claude': {'max-concurrency': '1', 'max-queue-depth': '10',
                         'max-queued-bytes': '100000'}}

    def test_waiting_bytes_are_bounded_and_released(self):
        conn, resp = self.hold_one_run()
        big = 'x' * 60000
        waiter = self.send_waiting(CONV, {'session_id': SID, 'message': big})
        wait_for(lambda: self.health()['queued'] == 1, 10, 'the first waiter')

        # 60,000 more bytes would pass the 100,000 waiting requests may hold.
        self.assert_queue_full(self.request('POST', CONV, {'session_id': SID2,
                                                           'message': big}))
        self.assert_queue_full(self.request(
            'POST', CHAT, {'messages': [{'role': 'user', 'content': big}]}))
        job = self.request('POST', '/execute', {'prompt': big, 'agent': 'workspace'})
        self.assertEqual(job.status, 429, job.body)
        self.assertIn('too many bytes', job.json()['detail'])
        self.assertEqual(self.health()['queued'], 1)

        # The waiter goes, and its bytes with it: the next one may wait.
        waiter.close()
        wait_for(lambda: self.health()['queued'] == 0, 10, 'the waiter to leave')
        self.send_waiting(CONV, {'session_id': SID2, 'message': big})
        wait_for(lambda: self.health()['queued'] == 1, 10, 'a new waiter to be accepted')
        close_stream(conn, resp)


class MemoryTest(QueueTestCase):

    @needs_plain_memory
    def test_rss_returns_after_large_bodies(self):
        # Warm up the paths a request takes, then measure.
        self.request('POST', CONV, {'session_id': 'bad', 'message': 'x'})
        before = self.daemon_status_kib()
        # Just under the default 8 MiB body limit; refused (400) once parsed.
        body = json.dumps({'session_id': 'bad', 'message': 'x' * (8 * 1024 * 1024 - 100)})
        for _ in range(20):
            resp = self.request('POST', CONV, body,
                                headers={'Content-Type': 'application/json'})
            self.assertEqual(resp.status, 400, resp.body[:200])
        wait_for(lambda: self.daemon_status_kib() < before + 4096, 10,
                 f'RSS to come back near {before} KiB (now {self.daemon_status_kib()} KiB)')
