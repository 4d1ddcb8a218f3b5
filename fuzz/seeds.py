#!/usr/bin/env python3
"""Writes the hand-made seed corpora of fuzz/corpus/ (run once; the files are committed).
Op encoding: see ops.c (ops_run): op byte, slot/arg byte, [arg byte]; slot % 5 is the kind:
0 timer, 1 idle, 2 prepare, 3 check, 4 async. A callback reads one byte: how many ops it runs."""
import os

here = os.path.dirname(os.path.abspath(__file__))

def write(kind, name, data):
    d = os.path.join(here, 'corpus', kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(bytes(data))

INIT, START, STOP, CLOSE, QUERY, RUN, LOOP = 0, 1, 3, 4, 5, 6, 7
DEFAULT, ONCE, NOWAIT = 0, 1, 2

def init(s): return [INIT, s]
def start(s, timeout=0, repeat=0): return [START, s, (timeout // 10) | ((repeat // 10) << 2)]
def stop(s): return [STOP, s]
def close(s): return [CLOSE, s]
def query(s, q): return [QUERY, s, q]
def run(mode): return [RUN, mode]
def loop(q): return [LOOP, q]
def cb(n): return [n]

diff = {
    'timers_order': init(0) + init(5) + start(0, 20) + start(5, 10) + run(DEFAULT) + cb(0) + cb(0),
    'timer_repeat': init(0) + start(0, 10, 10) + run(DEFAULT) + cb(0) + cb(0) + cb(1) + stop(0),
    'watchers': init(1) + init(2) + init(3) + start(1) + start(2) + start(3) + run(ONCE) +
                cb(0) + cb(0) + cb(0) + close(1) + run(NOWAIT),
    'async': init(4) + start(4) + start(4) + run(DEFAULT) + cb(0) + close(4),
    'close_order': init(0) + init(1) + init(2) + init(5) + close(5) + close(0) + close(2) +
                   close(1) + run(DEFAULT),
    'ref_unref': init(0) + start(0, 30) + query(0, 1) + loop(1) + run(DEFAULT) + query(0, 0) +
                 query(0, 2) + run(DEFAULT) + cb(0),
    'stop_in_cb': init(0) + init(5) + start(0, 10) + start(5, 10) + run(DEFAULT) +
                  cb(1) + stop(5) + cb(0),
    'close_in_cb': init(1) + start(1) + run(DEFAULT) + cb(1) + close(1) + run(DEFAULT),
    'again': init(0) + query(0, 3) + query(0, 4 | (2 << 3)) + query(0, 3) + run(ONCE) + cb(0) +
             stop(0),
    'walk': init(0) + init(1) + init(4) + loop(2) + close(1) + loop(2) + run(NOWAIT) + loop(2),
    'uv_stop': init(1) + start(1) + run(DEFAULT) + cb(1) + loop(0) + run(DEFAULT) + cb(0),
    'start_closing': init(0) + close(0) + start(0, 10) + run(DEFAULT),
}
for k, v in diff.items():
    write('diff', k, v)

VERB, FUT, MOCK, PEER, TCP, MISC = 8, 9, 11, 12, 13, 15
full = dict(diff)
full.update({
    'double_close': init(0) + close(0) + close(0),
    'start_closing_idle': init(1) + close(1) + start(1),
    'run_reentered': init(0) + start(0, 10) + run(DEFAULT) + cb(1) + run(DEFAULT),
    'verb_in_cb': init(0) + start(0, 10) + run(DEFAULT) + cb(1) + [VERB, 0],
    'never_initialised': start(0, 10),
    'reinit_live': init(0) + start(0, 10) + [MISC, 2, 0],
    'verbs': init(0) + start(0, 30) + [VERB, 0] + [VERB, 1, 20] + [VERB, 2] + cb(0),
    'futures': [FUT, 0, 0] + [FUT, 0, 0] + [FUT, 1, 0] + [FUT, 1, 3] + [FUT, 1, 1] +
               [FUT, 2, 0] + [FUT, 2, 6 | (10 << 3)] + [FUT, 2, 5],
    'mock': [MOCK, 0, 5] + [MOCK, 3, 0] + [FUT, 0, 5],
    'tcp': [PEER, 0, 0] + [PEER, 1, 5] + [PEER, 2, 0] + [TCP, 0, 0] + [TCP, 0 | (0 << 1), 1] +
           [TCP, 2 << 1, 0] + [TCP, 1 << 1, 0] + [VERB, 2] + [TCP, 6 << 1, 0],
    'tcp_refused': [TCP, 0, 0] + [TCP, 0, 0] + [VERB, 2] + [TCP, 6 << 1, 0],
})
for k, v in full.items():
    write('ops', k, v)

resp = {
    'status': b'+OK\r\n', 'error': b'-ERR wrong\r\n', 'integer': b':-42\r\n',
    'bulk': b'$5\r\nhello\r\n', 'nil': b'$-1\r\n*-1\r\n', 'empty_bulk': b'$0\r\n\r\n',
    'array': b'*3\r\n$3\r\nfoo\r\n:1\r\n*1\r\n+x\r\n', 'nested': b'*1\r\n*1\r\n*1\r\n:7\r\n',
    'pipeline': b'+OK\r\n:1\r\n:2\r\n$1\r\na\r\n', 'bad_type': b'?what\r\n',
    'bad_len': b'$abc\r\n', 'binary': b'$4\r\n\x00\r\n\xff\r\n',
}
for i, (k, v) in enumerate(resp.items()):
    write('resp', k, bytes([i * 37 % 256]) + v)
