<?php
/*
 * Client-compatibility test: drives the PHP client library Pheanstalk 4
 * (Debian package php-pda-pheanstalk) through its public API against a
 * running beanstalkd-compatible server, and checks the values it gets back.
 *
 * The server is found in BEANSTALK_HOST and BEANSTALK_PORT. Normally run as
 *
 *   tests/clients/run-with-server.sh SERVER_BINARY \
 *       php tests/clients/pheanstalk_test.php
 *
 * with SERVER_BINARY either our build/release/src/beanstalkd or the
 * reference /usr/bin/beanstalkd; the checks must pass against both.
 *
 * Output: one "ok - NAME" or "not ok - NAME: detail" line per check, then
 * "pheanstalk: N passed, M failed". Exit status 0 only if nothing failed.
 * Every check uses its own tube(s), so checks do not see each other's jobs.
 * Waits on timers (delay, TTR, pause) are bounded; the run takes a few
 * seconds.
 */

declare(strict_types=1);

require_once '/usr/share/php/Pheanstalk/autoload.php';

use Pheanstalk\Connection;
use Pheanstalk\Contract\ResponseInterface;
use Pheanstalk\Exception\DeadlineSoonException;
use Pheanstalk\Exception\JobNotFoundException;
use Pheanstalk\Exception\JobTooBigException;
use Pheanstalk\Exception\ServerBadFormatException;
use Pheanstalk\Exception\ServerException;
use Pheanstalk\Job;
use Pheanstalk\JobId;
use Pheanstalk\Pheanstalk;
use Pheanstalk\SocketFactory;

$HOST = getenv('BEANSTALK_HOST');
$PORT = getenv('BEANSTALK_PORT');
if ($HOST === false || $HOST === '' || $PORT === false || !ctype_digit($PORT)) {
    fwrite(STDERR, "pheanstalk_test: set BEANSTALK_HOST and BEANSTALK_PORT\n");
    exit(2);
}
$START = microtime(true);
$RUN = (string)getmypid();          // keeps tube names unique per run

// ---------------------------------------------------------------- helpers

final class CheckFailed extends Exception {}

$passed = 0;
$failed = 0;
$skipped = 0;

/**
 * Runs one named check; any exception (assertion or client) fails it.
 * `$referenceDefect` names a documented defect of the reference server
 * (doc/compatibility.md) that the check can run into: against the reference
 * such a failure is reported as a skip, against any other server it fails.
 */
function check(string $name, callable $body, ?string $referenceDefect = null): void
{
    global $passed, $failed, $skipped;
    try {
        $body();
        $passed++;
        echo "ok - $name\n";
    } catch (Throwable $e) {
        $detail = $e instanceof CheckFailed
            ? $e->getMessage()
            : get_class($e) . ': ' . $e->getMessage();
        $detail = str_replace("\n", ' ', $detail);
        if ($referenceDefect !== null && isReference()) {
            $skipped++;
            echo "ok - $name # SKIP reference defect ($referenceDefect): $detail\n";
            return;
        }
        $failed++;
        echo "not ok - $name: $detail\n";
    }
}

/** Whether the server is the reference, Debian's beanstalkd 1.12. */
function isReference(): bool
{
    static $answer = null;
    if ($answer === null) {
        $answer = unq(client()->stats()['version']) === '1.12';
    }
    return $answer;
}

function show($v): string
{
    if (is_string($v) && strlen($v) > 80) {
        return sprintf('<%d-byte string, md5 %s>', strlen($v), md5($v));
    }
    return var_export($v, true);
}

function ensure(bool $cond, string $what): void
{
    if (!$cond) {
        throw new CheckFailed($what);
    }
}

function eq($got, $want, string $what): void
{
    if ($got !== $want) {
        throw new CheckFailed("$what: expected " . show($want) . ', got ' . show($got));
    }
}

/** Calls $fn, which must throw $class; returns the exception. */
function throws(string $class, callable $fn, string $what): Throwable
{
    try {
        $result = $fn();
    } catch (Throwable $e) {
        if (!($e instanceof $class)) {
            throw new CheckFailed("$what: expected $class, got " . get_class($e) . ': ' . $e->getMessage());
        }
        return $e;
    }
    throw new CheckFailed("$what: expected $class, got a normal return " . show($result ?? null));
}

/** 1.13 (and our server) double-quote string values in stats; 1.12 does not. */
function unq(string $s): string
{
    return (strlen($s) >= 2 && $s[0] === '"' && substr($s, -1) === '"') ? substr($s, 1, -1) : $s;
}

/** An integer field of a stats response; fails unless it is all digits. */
function num(ResponseInterface $r, string $key): int
{
    ensure(isset($r[$key]), "stats key '$key' missing");
    ensure(ctype_digit($r[$key]), "stats key '$key' is not an integer: " . show($r[$key]));
    return (int)$r[$key];
}

/** Compares several fields of a stats response (ints as ints, strings unquoted). */
function fields(ResponseInterface $r, array $want, string $what): void
{
    foreach ($want as $key => $value) {
        ensure(isset($r[$key]), "$what: key '$key' missing");
        $got = is_int($value) ? num($r, $key) : unq($r[$key]);
        eq($got, $value, "$what: $key");
    }
}

/** A new connection (each client is its own beanstalkd connection). */
function client(?Connection &$conn = null): Pheanstalk
{
    global $HOST, $PORT;
    $conn = new Connection(new SocketFactory($HOST, (int)$PORT, 5));
    return new Pheanstalk($conn);
}

function tube(string $name): string
{
    global $RUN;
    return "php-$RUN-$name";
}

/** A job in the used tube, reserved straight away through $p (which watches only that tube). */
function putReserve(Pheanstalk $p, string $data, int $pri = 1024, int $ttr = 60): Job
{
    $put = $p->put($data, $pri, 0, $ttr);
    $job = $p->reserveWithTimeout(0);
    ensure($job !== null, 'reserve after put got TIMED_OUT');
    eq($job->getId(), $put->getId(), 'reserved job id');
    return $job;
}

/** Producer and worker on the same tube, for checks that need one tube. */
function onTube(string $name): Pheanstalk
{
    $p = client();
    $t = tube($name);
    $p->useTube($t);
    $p->watchOnly($t);
    return $p;
}

// ---------------------------------------------------------------- checks

check('default tube on a new connection', function () {
    $p = client();
    eq($p->listTubeUsed(true), 'default', 'list-tube-used');
    eq($p->listTubesWatched(true), ['default'], 'list-tubes-watched');
    ensure(in_array('default', $p->listTubes(), true), 'list-tubes lacks default');
});

check('use / watch / ignore / list-tubes', function () {
    $p = client($conn);
    $a = tube('use-a');
    $b = tube('use-b');
    $p->useTube($a);
    eq($p->listTubeUsed(true), $a, 'list-tube-used after use');
    $p->watch($b);
    eq($p->listTubesWatched(true), ['default', $b], 'watched after watch');
    $p->ignore('default');
    eq($p->listTubesWatched(true), [$b], 'watched after ignore default');
    $e = throws(ServerException::class, fn() => $p->ignore($b), 'ignore last watched tube');
    ensure(str_contains($e->getMessage(), 'NOT_IGNORED'), 'ignore last: message lacks NOT_IGNORED: ' . $e->getMessage());
    eq($p->listTubesWatched(true), [$b], 'watched after refused ignore');
    $tubes = client()->listTubes();
    ensure(in_array($a, $tubes, true) && in_array($b, $tubes, true), 'list-tubes lacks used/watched tubes: ' . show($tubes));
    // Empty tubes vanish once no connection uses or watches them.
    $conn->disconnect();
    $other = client();
    $deadline = microtime(true) + 1.0;
    while (true) {
        $tubes = $other->listTubes();
        $gone = !in_array($a, $tubes, true) && !in_array($b, $tubes, true);
        if ($gone || microtime(true) > $deadline) {
            break;
        }
        usleep(20000);
    }
    ensure($gone, 'tubes still listed after their only connection closed: ' . show($tubes));
});

check('put priority/delay/ttr read back with stats-job', function () {
    $p = client();
    $t = tube('put-stats');
    $p->useTube($t);
    $a = $p->put('a', 5, 0, 7);
    fields($p->statsJob($a), [
        'id' => $a->getId(), 'tube' => $t, 'state' => 'ready', 'pri' => 5, 'delay' => 0,
        'ttr' => 7, 'time-left' => 0, 'reserves' => 0, 'timeouts' => 0, 'releases' => 0,
        'buries' => 0, 'kicks' => 0,
    ], 'ready job');
    ensure(num($p->statsJob($a), 'age') <= 2, 'age of a new job above 2 s');
    $d = $p->put('d', 4294967295, 30, 3);
    $s = $p->statsJob($d);
    fields($s, ['state' => 'delayed', 'pri' => 4294967295, 'delay' => 30, 'ttr' => 3], 'delayed job');
    ensure(num($s, 'time-left') >= 28 && num($s, 'time-left') <= 30, 'delayed time-left not in 28..30: ' . $s['time-left']);
    $z = $p->put('z', 0, 0, 0);
    fields($p->statsJob($z), ['pri' => 0, 'ttr' => 1], 'ttr 0 is raised to 1');
    ensure($d->getId() > $a->getId() && $z->getId() > $d->getId(), 'job ids do not grow');
});

check('reserve-with-timeout 0 on an empty tube returns null at once', function () {
    $p = onTube('rwt-empty');
    $t0 = microtime(true);
    eq($p->reserveWithTimeout(0), null, 'reserveWithTimeout(0)');
    ensure(microtime(true) - $t0 < 0.5, 'reserveWithTimeout(0) took over 0.5 s');
});

check('reserve, stats of a reserved job, delete', function () {
    $p = onTube('reserve-delete');
    $put = $p->put('payload', 10, 0, 30);
    $job = $p->reserve();
    eq($job->getId(), $put->getId(), 'reserved id');
    eq($job->getData(), 'payload', 'reserved data');
    $s = $p->statsJob($job);
    fields($s, ['state' => 'reserved', 'reserves' => 1, 'ttr' => 30], 'reserved job');
    ensure(num($s, 'time-left') >= 28 && num($s, 'time-left') <= 30, 'reserved time-left not in 28..30: ' . $s['time-left']);
    $p->delete($job);
    $e = throws(ServerException::class, fn() => $p->statsJob($job), 'stats-job of a deleted job');
    ensure(str_contains($e->getMessage(), 'NOT_FOUND'), 'stats-job: message lacks NOT_FOUND');
    throws(JobNotFoundException::class, fn() => $p->peek($job), 'peek of a deleted job');
    throws(JobNotFoundException::class, fn() => $p->delete($job), 'second delete');
    eq($p->reserveWithTimeout(0), null, 'tube empty after delete');
});

check('delete of a missing job is NOT_FOUND', function () {
    $p = client();
    $e = throws(JobNotFoundException::class, fn() => $p->delete(new JobId(987654321)), 'delete 987654321');
    ensure(str_contains($e->getMessage(), 'NOT_FOUND'), 'message lacks NOT_FOUND: ' . $e->getMessage());
});

check('reserve takes the best job across watched tubes', function () {
    $p = client();
    $a = tube('multi-a');
    $b = tube('multi-b');
    $p->useTube($a);
    $ja = $p->put('in a', 5);
    $p->useTube($b);
    $jb = $p->put('in b', 1);
    $p->watch($a)->watch($b)->ignore('default');
    $first = $p->reserveWithTimeout(0);
    eq($first->getId(), $jb->getId(), 'first reserve (pri 1 in b)');
    $second = $p->reserveWithTimeout(0);
    eq($second->getId(), $ja->getId(), 'second reserve (pri 5 in a)');
    $p->delete($first);
    $p->delete($second);
});

check('release with a new priority', function () {
    $p = onTube('release-pri');
    $a = $p->put('a', 50);
    $b = $p->put('b', 50);
    $ra = $p->reserveWithTimeout(0);
    eq($ra->getId(), $a->getId(), 'first reserve');
    $p->release($ra, 100, 0);
    fields($p->statsJob($a), ['state' => 'ready', 'pri' => 100, 'releases' => 1, 'reserves' => 1], 'released job');
    eq($p->reserveWithTimeout(0)->getId(), $b->getId(), 'b now goes first');
    eq($p->reserveWithTimeout(0)->getId(), $a->getId(), 'then the released a');
    throws(JobNotFoundException::class, fn() => client()->release($a, 1, 0), 'release from another connection');
    $p->delete($a);
    $p->delete($b);
});

check('release with a delay: delayed, then ready', function () {
    $p = onTube('release-delay');
    $job = putReserve($p, 'later', 100, 10);
    $t0 = microtime(true);
    $p->release($job, 7, 1);
    fields($p->statsJob($job), ['state' => 'delayed', 'pri' => 7, 'delay' => 1, 'releases' => 1], 'after release');
    eq($p->peekDelayed()->getId(), $job->getId(), 'peek-delayed');
    eq($p->reserveWithTimeout(0), null, 'reserve while delayed');
    do {
        usleep(50000);
        $state = $p->statsJob($job)['state'];
    } while ($state === 'delayed' && microtime(true) - $t0 < 2.0);
    $waited = microtime(true) - $t0;
    eq($state, 'ready', 'state after the delay');
    ensure($waited >= 0.9, sprintf('ready too early, after %.2f s', $waited));
    $again = $p->reserveWithTimeout(0);
    ensure($again !== null, 'reserve after the delay got TIMED_OUT');
    eq($again->getData(), 'later', 'data after release');
    fields($p->statsJob($again), ['state' => 'reserved', 'pri' => 7, 'reserves' => 2, 'releases' => 1], 'reserved again');
    $p->delete($again);
});

check('bury, peek-buried, kick, kick-job', function () {
    $p = onTube('bury-kick');
    $ids = [];
    foreach (['b1', 'b2', 'b3'] as $data) {
        $job = putReserve($p, $data);
        $p->bury($job, 9);
        $ids[] = $job->getId();
    }
    fields($p->statsJob(new JobId($ids[0])), ['state' => 'buried', 'pri' => 9, 'buries' => 1, 'kicks' => 0], 'buried job');
    $peek = $p->peekBuried();
    eq([$peek->getId(), $peek->getData()], [$ids[0], 'b1'], 'peek-buried gives the oldest buried');
    $delayed = $p->put('delayed', 1, 100);
    eq(num($p->statsTube(tube('bury-kick')), 'current-jobs-buried'), 3, 'current-jobs-buried');
    eq($p->kick(2), 2, 'kick 2 with 3 buried');
    fields($p->statsJob(new JobId($ids[0])), ['state' => 'ready', 'kicks' => 1, 'pri' => 9], 'kicked job');
    fields($p->statsJob(new JobId($ids[2])), ['state' => 'buried'], 'third job still buried');
    fields($p->statsJob($delayed), ['state' => 'delayed'], 'kick touches no delayed job while some are buried');
    $p->kickJob(new JobId($ids[2]));
    fields($p->statsJob(new JobId($ids[2])), ['state' => 'ready', 'kicks' => 1], 'kick-job of a buried job');
    throws(JobNotFoundException::class, fn() => $p->kickJob(new JobId($ids[2])), 'kick-job of a ready job');
    eq($p->kick(5), 1, 'kick with no buried kicks the delayed job');
    fields($p->statsJob($delayed), ['state' => 'ready', 'kicks' => 1], 'kicked delayed job');
    eq($p->kick(5), 0, 'kick with nothing to kick');
    $d2 = $p->put('delayed 2', 1, 100);
    $p->kickJob($d2);
    fields($p->statsJob($d2), ['state' => 'ready', 'kicks' => 1], 'kick-job of a delayed job');
    throws(JobNotFoundException::class, fn() => $p->bury(new JobId($ids[0]), 1), 'bury of an unreserved job');
});

check('peek, peek-ready, peek-delayed, peek-buried', function () {
    $p = onTube('peek');
    eq($p->peekReady(), null, 'peek-ready on an empty tube');
    eq($p->peekDelayed(), null, 'peek-delayed on an empty tube');
    eq($p->peekBuried(), null, 'peek-buried on an empty tube');
    throws(JobNotFoundException::class, fn() => $p->peek(new JobId(987654321)), 'peek of a missing job');
    $low = $p->put('low', 20);
    $high = $p->put('high', 10);
    $p->put('later', 0, 100);
    $soon = $p->put('sooner', 0, 50);
    $r = $p->peekReady();
    eq([$r->getId(), $r->getData()], [$high->getId(), 'high'], 'peek-ready');
    $d = $p->peekDelayed();
    eq([$d->getId(), $d->getData()], [$soon->getId(), 'sooner'], 'peek-delayed');
    eq($p->peekBuried(), null, 'peek-buried with none buried');
    $j = $p->peek($low);
    eq([$j->getId(), $j->getData()], [$low->getId(), 'low'], 'peek by id');
    eq(client()->peek($soon)->getData(), 'sooner', 'peek by id of a delayed job, other connection');
    eq(client()->peekReady(), null, 'peek-ready looks at the used tube only');
});

check('touch', function () {
    $p = onTube('touch');
    $job = putReserve($p, 'touch me', 1024, 2);
    usleep(1100000);
    eq(num($p->statsJob($job), 'time-left'), 0, 'time-left 1.1 s into a 2 s ttr');
    $p->touch($job);
    eq(num($p->statsJob($job), 'time-left'), 1, 'time-left right after touch');
    throws(JobNotFoundException::class, fn() => client()->touch($job), 'touch from another connection');
    $p->delete($job);
    throws(JobNotFoundException::class, fn() => $p->touch($job), 'touch of a deleted job');
    throws(JobNotFoundException::class, fn() => $p->touch($p->put('ready')), 'touch of a ready job');
});

check('DEADLINE_SOON', function () {
    $p = onTube('deadline-soon');
    $job = putReserve($p, 'short', 1024, 1);
    $t0 = microtime(true);
    throws(DeadlineSoonException::class, fn() => $p->reserveWithTimeout(2), 'reserve-with-timeout holding a 1 s job');
    ensure(microtime(true) - $t0 < 0.5, 'DEADLINE_SOON was not immediate');
    // Only now is a blocking reserve safe: it cannot hang if the above passed.
    throws(DeadlineSoonException::class, fn() => $p->reserve(), 'reserve holding a 1 s job');
    fields($p->statsJob($job), ['state' => 'reserved', 'timeouts' => 0], 'job after DEADLINE_SOON');
    $p->delete($job);
});

check('TTR expiry returns the job to ready', function () {
    // Nothing is sent while the TTR runs out: the reference (1.12) leaves a
    // job reserved long past its TTR when another connection sends commands
    // shortly before the deadline (until the holder sends something), and on
    // a loaded machine was seen to do so even after a silent wait.
    $t = tube('ttr');
    $a = onTube('ttr');
    $b = client();
    $b->watchOnly($t);
    $before = num($b->stats(), 'job-timeouts');
    $job = putReserve($a, 'expires', 1024, 1);
    usleep(1300000);
    fields($b->statsJob($job), ['state' => 'ready', 'timeouts' => 1, 'reserves' => 1], '1.3 s into a 1 s ttr');
    eq(num($b->stats(), 'job-timeouts'), $before + 1, 'global job-timeouts');
    $again = $b->reserveWithTimeout(0);
    ensure($again !== null, 'other connection could not reserve the expired job');
    eq($again->getId(), $job->getId(), 'expired job id');
    fields($b->statsJob($job), ['state' => 'reserved', 'reserves' => 2, 'timeouts' => 1], 'reserved by the other connection');
    throws(JobNotFoundException::class, fn() => $a->delete($job), 'delete by the connection that lost it');
    $b->delete($job);
}, 'it can miss a TTR: doc/compatibility.md');

check('TTR expiry hands the job to a waiting worker', function () {
    $a = onTube('ttr-wait');
    $b = client();
    $b->watchOnly(tube('ttr-wait'));
    $job = putReserve($a, 'expires', 1024, 1);
    $t0 = microtime(true);
    $got = $b->reserveWithTimeout(3);
    $waited = microtime(true) - $t0;
    ensure($got !== null, 'waiting worker timed out instead of getting the expired job');
    eq([$got->getId(), $got->getData()], [$job->getId(), 'expires'], 'job handed over');
    ensure($waited >= 0.8 && $waited < 2.5, sprintf('handed over after %.2f s, not about 1 s', $waited));
    fields($b->statsJob($job), ['state' => 'reserved', 'reserves' => 2, 'timeouts' => 1], 'after the handover');
    $b->delete($job);
}, 'it can miss a TTR: doc/compatibility.md');

check('pause-tube and resume', function () {
    $t = tube('pause');
    $p = onTube('pause');
    $job = $p->put('paused');
    $p->pauseTube($t, 60);
    $s = $p->statsTube($t);
    fields($s, ['pause' => 60, 'cmd-pause-tube' => 1, 'current-jobs-ready' => 1], 'paused tube');
    ensure(num($s, 'pause-time-left') >= 59 && num($s, 'pause-time-left') <= 60, 'pause-time-left not in 59..60: ' . $s['pause-time-left']);
    eq($p->reserveWithTimeout(0), null, 'reserve from a paused tube');
    eq($p->peekReady()->getId(), $job->getId(), 'peek ignores the pause');
    $p->resumeTube($t);
    fields($p->statsTube($t), ['pause' => 0, 'pause-time-left' => 0, 'cmd-pause-tube' => 2], 'resumed tube');
    eq($p->reserveWithTimeout(0)->getId(), $job->getId(), 'reserve after resume');
    $p->delete($job);

    // A short pause ends by itself.
    $job = $p->put('paused 1 s');
    $p->pauseTube($t, 1);
    $t0 = microtime(true);
    $got = $p->reserveWithTimeout(3);
    $waited = microtime(true) - $t0;
    ensure($got !== null, 'reserve-with-timeout 3 timed out on a tube paused 1 s');
    eq($got->getId(), $job->getId(), 'job after the pause');
    ensure($waited >= 0.5 && $waited < 2.5, sprintf('pause of 1 s ended after %.2f s', $waited));
    $p->delete($got);

    $e = throws(ServerException::class, fn() => $p->pauseTube(tube('no-such-tube'), 10), 'pause of a missing tube');
    ensure(str_contains($e->getMessage(), 'NOT_FOUND'), 'pause missing tube: message lacks NOT_FOUND');
});

check('stats-tube counts', function () {
    $t = tube('tube-counts');
    $prod = client();
    $prod->useTube($t);
    $work = client();
    $work->watchOnly($t);
    $prod->put('urgent reserved', 0);
    $ready = $prod->put('ready, not urgent', 2000);
    $prod->put('to bury', 5);
    $prod->put('ready urgent', 10);
    $prod->put('delayed', 0, 100);
    $held = $work->reserveWithTimeout(0);         // pri 0
    $work->bury($work->reserveWithTimeout(0), 5); // pri 5
    $prod->delete($ready);
    throws(JobNotFoundException::class, fn() => $prod->delete(new JobId(987654321)), 'delete of a missing job');
    fields($prod->statsTube($t), [
        'name' => $t,
        'current-jobs-urgent' => 1, 'current-jobs-ready' => 1, 'current-jobs-reserved' => 1,
        'current-jobs-delayed' => 1, 'current-jobs-buried' => 1, 'total-jobs' => 5,
        'current-using' => 1, 'current-watching' => 1, 'current-waiting' => 0,
        'cmd-delete' => 1, 'cmd-pause-tube' => 0, 'pause' => 0, 'pause-time-left' => 0,
    ], "stats-tube $t");
    $work->delete($held);
    fields($prod->statsTube($t), ['current-jobs-reserved' => 0, 'cmd-delete' => 2], 'after deleting the reserved job');
    $e = throws(ServerException::class, fn() => $prod->statsTube(tube('no-such-tube')), 'stats-tube of a missing tube');
    ensure(str_contains($e->getMessage(), 'NOT_FOUND'), 'stats-tube missing: message lacks NOT_FOUND');
});

check('server stats: keys, types and job counts', function () {
    global $START;
    $p = client();
    $s = $p->stats();
    $ints = ['current-jobs-urgent', 'current-jobs-ready', 'current-jobs-reserved', 'current-jobs-delayed',
        'current-jobs-buried', 'cmd-put', 'cmd-peek', 'cmd-peek-ready', 'cmd-peek-delayed', 'cmd-peek-buried',
        'cmd-reserve', 'cmd-reserve-with-timeout', 'cmd-delete', 'cmd-release', 'cmd-use', 'cmd-watch',
        'cmd-ignore', 'cmd-bury', 'cmd-kick', 'cmd-touch', 'cmd-stats', 'cmd-stats-job', 'cmd-stats-tube',
        'cmd-list-tubes', 'cmd-list-tube-used', 'cmd-list-tubes-watched', 'cmd-pause-tube', 'job-timeouts',
        'total-jobs', 'max-job-size', 'current-tubes', 'current-connections', 'current-producers',
        'current-workers', 'current-waiting', 'total-connections', 'pid', 'uptime', 'binlog-oldest-index',
        'binlog-current-index', 'binlog-records-migrated', 'binlog-records-written', 'binlog-max-size'];
    $strings = ['version', 'hostname', 'os', 'platform'];
    $other = ['rusage-utime', 'rusage-stime', 'draining', 'id'];
    foreach ($ints as $key) {
        num($s, $key);
    }
    foreach ($strings as $key) {
        ensure(isset($s[$key]) && unq($s[$key]) !== '', "stats key '$key' missing or empty");
    }
    foreach (['rusage-utime', 'rusage-stime'] as $key) {
        ensure(isset($s[$key]) && preg_match('/^\d+\.\d{6}$/', $s[$key]) === 1, "stats '$key' not seconds.micros: " . show($s[$key] ?? null));
    }
    eq($s['draining'] ?? null, 'false', 'draining');
    ensure(preg_match('/^[0-9a-f]{16}$/', $s['id'] ?? '') === 1, 'stats id not 16 hex digits: ' . show($s['id'] ?? null));
    $unknown = array_diff(array_keys($s->getArrayCopy()), $ints, $strings, $other);
    eq(array_values($unknown), [], 'stats keys not in the reference list');
    eq(num($s, 'max-job-size'), 65535, 'max-job-size');
    ensure(num($s, 'pid') > 0 && posix_kill(num($s, 'pid'), 0), 'stats pid is not a live process: ' . $s['pid']);
    ensure(num($s, 'uptime') <= (int)ceil(microtime(true) - $START) + 5, 'uptime longer than this run: ' . $s['uptime']);
    ensure(num($s, 'current-connections') >= 1, 'current-connections below 1');
    ensure(num($s, 'total-connections') >= num($s, 'current-connections'), 'total-connections below current-connections');
    ensure(num($s, 'current-tubes') >= 1, 'current-tubes below 1');

    // Global job counts are the sum of the per-tube counts.
    $states = ['urgent', 'ready', 'reserved', 'delayed', 'buried'];
    $sum = array_fill_keys($states, 0);
    $tubes = $p->listTubes();
    eq(count($tubes), num($s, 'current-tubes'), 'list-tubes count vs current-tubes');
    foreach ($tubes as $tube) {
        $ts = $p->statsTube($tube);
        foreach ($states as $state) {
            $sum[$state] += num($ts, "current-jobs-$state");
        }
    }
    foreach ($states as $state) {
        eq($sum[$state], num($s, "current-jobs-$state"), "current-jobs-$state vs sum over tubes");
    }

    // And they move with what this check does.
    $t = tube('server-stats');
    $prod = client();
    $prod->useTube($t);
    $work = client();
    $work->watchOnly($t);
    $before = $p->stats();
    $prod->put('reserved', 1);
    $prod->put('buried', 2);
    $prod->put('ready, urgent', 3);
    $prod->put('ready, not urgent', 5000);
    $prod->put('delayed', 4, 100);
    $held = $work->reserveWithTimeout(0);
    $work->bury($work->reserveWithTimeout(0), 2);
    $after = $p->stats();
    $delta = fn(string $key) => num($after, $key) - num($before, $key);
    $want = ['current-jobs-urgent' => 1, 'current-jobs-ready' => 2, 'current-jobs-reserved' => 1,
        'current-jobs-delayed' => 1, 'current-jobs-buried' => 1, 'cmd-put' => 5, 'total-jobs' => 5,
        'cmd-reserve-with-timeout' => 2, 'cmd-bury' => 1, 'cmd-stats' => 1];
    foreach ($want as $key => $d) {
        eq($delta($key), $d, "change of $key");
    }
    $work->delete($held);
    eq(num($p->stats(), 'current-jobs-reserved'), num($after, 'current-jobs-reserved') - 1, 'current-jobs-reserved after delete');
});

check('bodies come back byte-exact', function () {
    $p = onTube('bodies');
    $all = '';
    for ($i = 0; $i < 256; $i++) {
        $all .= chr($i);
    }
    $bodies = [
        'binary with CRLF and NUL' => "a\r\nb\0c\r\n\0\r\nput 0 0 1 1\r\n",
        'just CRLF' => "\r\n",
        'UTF-8' => "zażółć gęślą jaźń — 日本語 — 🚀",
        'empty' => '',
        '60000 bytes' => substr(str_repeat($all, 235), 0, 60000),
        '65535 bytes (the limit)' => str_repeat("\xff\r\n\0", 16383) . "xyz",
    ];
    foreach ($bodies as $what => $body) {
        $put = $p->put($body);
        eq($p->peek($put)->getData(), $body, "$what via peek");
        $job = $p->reserveWithTimeout(0);
        ensure($job !== null, "$what: reserve got TIMED_OUT");
        eq($job->getId(), $put->getId(), "$what: id");
        eq($job->getData(), $body, "$what via reserve");
        $p->delete($job);
    }
    eq(strlen($bodies['65535 bytes (the limit)']), 65535, 'test body length');
});

check('500 jobs come back in priority-then-FIFO order', function () {
    $p = onTube('order');
    $expected = [];
    for ($i = 0; $i < 500; $i++) {
        $pri = [7, 0, 4294967295, 1024, 7, 3][($i * 7919) % 6];
        $job = $p->put("job $i", $pri);
        $expected[] = [$pri, $job->getId(), "job $i"];
    }
    usort($expected, fn($x, $y) => [$x[0], $x[1]] <=> [$y[0], $y[1]]);
    foreach ($expected as $n => [$pri, $id, $data]) {
        $job = $p->reserveWithTimeout(0);
        ensure($job !== null, "reserve #$n got TIMED_OUT");
        eq([$job->getId(), $job->getData()], [$id, $data], "reserve #$n");
        $p->delete($job);
    }
    eq($p->reserveWithTimeout(0), null, 'tube empty after 500');
});

check('job too big', function () {
    $p = onTube('too-big');
    $e = throws(JobTooBigException::class, fn() => $p->put(str_repeat('x', 65536)), 'put of 65536 bytes');
    ensure(str_contains($e->getMessage(), 'JOB_TOO_BIG'), 'message lacks JOB_TOO_BIG: ' . $e->getMessage());
    throws(JobTooBigException::class, fn() => $p->put(str_repeat("\r\n", 50000)), 'put of 100000 bytes of CRLFs');
    // The connection is still in step afterwards.
    eq($p->listTubeUsed(true), tube('too-big'), 'list-tube-used after JOB_TOO_BIG');
    $job = $p->put('small');
    eq($p->reserveWithTimeout(0)->getData(), 'small', 'put after JOB_TOO_BIG');
    eq($p->peekReady(), null, 'nothing of the big bodies was stored');
    $p->delete($job);
});

check('tube names: 200-byte limit and bad names', function () {
    $p = client();
    $chars = 'ABCXYZabcxyz0189-+/;.$_()';
    $name = tube('long-');
    for ($i = 0; strlen($name) < 200; $i++) {
        $name .= $chars[$i % strlen($chars)];
    }
    $p->useTube($name);
    eq($p->listTubeUsed(true), $name, 'list-tube-used with a 200-byte name');
    $p->watch($name);
    ensure(in_array($name, $p->listTubesWatched(true), true), 'list-tubes-watched lacks the 200-byte name');
    ensure(in_array($name, $p->listTubes(), true), 'list-tubes lacks the 200-byte name');
    $job = $p->put('long');
    fields($p->statsJob($job), ['tube' => $name], 'stats-job of a job in the long tube');
    fields($p->statsTube($name), ['name' => $name, 'current-jobs-ready' => 1], 'stats-tube of the long tube');

    $bad = [
        '201 bytes' => $name . 'x',
        'bad character' => tube('bad*name'),
        'space inside' => tube('bad name'),
        'leading dash' => '-' . tube('dash'),
    ];
    foreach ($bad as $what => $badName) {
        throws(ServerBadFormatException::class, fn() => $p->useTube($badName), "use, $what");
        throws(ServerBadFormatException::class, fn() => $p->watch($badName), "watch, $what");
        throws(ServerBadFormatException::class, fn() => $p->statsTube($badName), "stats-tube, $what");
    }
    eq($p->listTubeUsed(true), $name, 'used tube unchanged after bad names');
    eq($p->listTubesWatched(true), ['default', $name], 'watch list unchanged after bad names');
});

// ---------------------------------------------------------------- summary

echo "pheanstalk: $passed passed, $failed failed" . ($skipped > 0 ? ", $skipped skipped" : '') . "\n";
exit($failed === 0 && $passed > 0 ? 0 : 1);
