# Client-compatibility test: drives the Ruby client library beaneater 1.1
# (Debian package ruby-beaneater) through its public API against a running
# beanstalkd-compatible server, and checks the concrete values it gets back.
#
# The server is found in BEANSTALK_HOST and BEANSTALK_PORT. Normally run as
#
#   tests/clients/run-with-server.sh SERVER_BINARY \
#       ruby tests/clients/beaneater_test.rb
#
# with SERVER_BINARY either our build/release/src/beanstalkd or the reference
# /usr/bin/beanstalkd; every check must pass against both.
#
# Output: one "ok - NAME" or "not ok - NAME: detail" line per check, then
# "beaneater: N passed, M failed". The exit status is 0 only when nothing
# failed and at least one check passed. Every check opens its own
# connection(s) and uses its own tube(s), so checks do not see each other's
# jobs. Waits on timers (delay, TTR, pause) are short and bounded; the whole
# run takes a few seconds.
#
# Things to know about beaneater 1.1 that shape the checks:
# - job ids come back as Strings ("12"); stats values are parsed with YAML,
#   so numbers are Integers and `job.stats.id` is an Integer;
# - job bodies come back tagged ASCII-8BIT (raw bytes), whatever was put;
# - Beaneater::Stats sends a fresh `stats` command for every value read.

require 'beaneater'
require 'timeout'

HOST = ENV['BEANSTALK_HOST'].to_s
PORT = ENV['BEANSTALK_PORT'].to_s
if HOST.empty? || PORT !~ /\A\d+\z/
  warn 'beaneater_test: set BEANSTALK_HOST and BEANSTALK_PORT'
  exit 2
end
ADDRESS = "#{HOST}:#{PORT}"
CHECK_TIMEOUT = 10 # seconds; a hung check fails instead of hanging the run
MAX_JOB_SIZE = 65_535

# ------------------------------------------------------------------ helpers

class CheckFailed < StandardError; end

$passed = 0
$failed = 0

# Runs one named check; an assertion failure or any exception fails it.
def check(name)
  Timeout.timeout(CHECK_TIMEOUT) { yield }
  $passed += 1
  puts "ok - #{name}"
rescue CheckFailed => e
  $failed += 1
  puts "not ok - #{name}: #{e.message}"
rescue StandardError => e
  $failed += 1
  puts "not ok - #{name}: #{e.class}: #{e.message} (at #{e.backtrace&.first})"
end

def expect_eq(what, want, got)
  return if want == got
  raise CheckFailed, "#{what}: expected #{want.inspect}, got #{got.inspect}"
end

def expect_in(what, range, got)
  return if got.is_a?(Numeric) && range.cover?(got)
  raise CheckFailed, "#{what}: expected a value in #{range}, got #{got.inspect}"
end

def expect(what, condition)
  raise CheckFailed, what unless condition
end

# Byte-exact comparison that does not print 60 KB bodies on failure.
def expect_bytes(what, want, got)
  raise CheckFailed, "#{what}: got nil" if got.nil?
  want = want.b
  got = got.b
  return if want == got
  diff = (0...[want.size, got.size].min).find { |i| want[i] != got[i] }
  raise CheckFailed, "#{what}: #{want.bytesize} bytes expected, #{got.bytesize} received, " \
                     "first difference at byte #{diff.inspect}"
end

# Runs the block, which must raise `klass`; returns the exception.
def expect_raise(what, klass)
  yield
rescue klass => e
  e
rescue StandardError => e
  raise CheckFailed, "#{what}: expected #{klass}, got #{e.class}: #{e.message}"
else
  raise CheckFailed, "#{what}: expected #{klass}, nothing was raised"
end

# Polls the block until it returns true; fails after `seconds`.
def wait_until(what, seconds)
  deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
  until yield
    if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
      raise CheckFailed, "#{what}: not reached within #{seconds} s"
    end
    sleep 0.02
  end
end

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

# Opens `count` connections, yields them, always closes them.
def with_clients(count = 1)
  clients = Array.new(count) { Beaneater.new(ADDRESS) }
  yield(*clients)
ensure
  clients&.each { |c| c.close rescue nil }
end

$tube_seq = 0
# A tube name unique to this run and check.
def fresh_tube(tag)
  $tube_seq += 1
  "bt#{Process.pid}-#{$tube_seq}-#{tag}"
end

# Puts a job through `tube` (a Beaneater::Tube); returns the id String.
def put(tube, body, **options)
  res = tube.put(body, options)
  expect_eq('put status', 'INSERTED', res[:status])
  expect("put id is a decimal string: #{res[:id].inspect}", res[:id].to_s =~ /\A\d+\z/)
  res[:id]
end

# The values of some server stats (one `stats` command per key).
def server_stats(client, *keys)
  keys.to_h { |k| [k, client.stats[k]] }
end

# ------------------------------------------------------------------ tubes

check 'new connection uses and watches default' do
  with_clients do |c|
    expect_eq('tubes.used', 'default', c.tubes.used.name)
    expect_eq('tubes.watched', ['default'], c.tubes.watched.map(&:name))
  end
end

check 'tubes.use and tubes.used' do
  with_clients do |c|
    name = fresh_tube('use')
    c.tubes.use(name)
    expect_eq('tubes.used after use', name, c.tubes.used.name)
    c.tubes.use('default')
    expect_eq('tubes.used after use default', 'default', c.tubes.used.name)
  end
end

check 'tubes.watch, watch!, ignore and tubes.watched' do
  with_clients do |c|
    a, b, d = fresh_tube('wa'), fresh_tube('wb'), fresh_tube('wc')
    c.tubes.watch(a)
    expect_eq('after watch', ['default', a], c.tubes.watched.map(&:name))
    c.tubes.watch(a) # watching twice is no error and no duplicate
    expect_eq('after watching again', ['default', a], c.tubes.watched.map(&:name))
    c.tubes.watch!(b, d)
    # The server keeps the watch list in a set whose removal moves the last
    # entry into the hole: [default, a, b, c] minus default and a.
    expect_eq('after watch!', [d, b], c.tubes.watched.map(&:name))
    c.tubes.ignore(b)
    expect_eq('after ignore', [d], c.tubes.watched.map(&:name))
    c.tubes.ignore(fresh_tube('never-watched')) # answers WATCHING 1
    expect_eq('after ignoring an unwatched tube', [d], c.tubes.watched.map(&:name))
    expect_raise('ignoring the last watched tube', Beaneater::NotIgnoredError) { c.tubes.ignore(d) }
    expect_eq('still watched', [d], c.tubes.watched.map(&:name))
  end
end

check 'tubes.all lists tubes in use and drops unreferenced ones' do
  with_clients(2) do |c1, c2|
    used, watched = fresh_tube('all-use'), fresh_tube('all-watch')
    c1.tubes.use(used)
    c1.tubes.watch(watched)
    names = c2.tubes.all.map(&:name)
    expect_eq('first tube', 'default', names.first)
    expect("tubes.all includes #{used} and #{watched}: #{names.inspect}",
           names.include?(used) && names.include?(watched))
    c1.tubes.use('default')
    c1.tubes.ignore(watched)
    names = c2.tubes.all.map(&:name)
    expect("empty, unreferenced tubes are gone: #{names.inspect}",
           !names.include?(used) && !names.include?(watched))
    expect_raise('stats of a vanished tube', Beaneater::NotFoundError) { c2.tubes[used].stats }
  end
end

check 'tube names: 200 bytes accepted, 201 bytes and bad characters refused' do
  with_clients do |c|
    legal = 'Az09+/;.$_()-'
    name = ("bt#{Process.pid}-" + legal * 20)[0, 200]
    expect_eq('name length', 200, name.bytesize)
    c.tubes.use(name)
    expect_eq('tubes.used', name, c.tubes.used.name)
    tube = c.tubes[name]
    id = put(tube, 'long-name job')
    c.tubes.watch!(name)
    expect_eq('tubes.watched', [name], c.tubes.watched.map(&:name))
    expect("tubes.all includes the 200-byte name", c.tubes.all.map(&:name).include?(name))
    expect_eq('stats-tube name', name, tube.stats.name)
    expect_eq('job tube', name, c.jobs.find(id).stats.tube)
    job = c.tubes.reserve(0)
    expect_eq('reserved id', id, job.id)
    job.delete

    ['x' * 201, '-leading-dash', 'bad!char', 'has space', "tab\there"].each do |bad|
      expect_raise("use #{bad[0, 20].inspect}", Beaneater::InvalidTubeName) { c.tubes.use(bad) }
      expect_raise("watch #{bad[0, 20].inspect}", Beaneater::InvalidTubeName) { c.tubes.watch(bad) }
    end
    expect_raise('stats-tube of a bad name', Beaneater::BadFormatError) { c.tubes['-bad'].stats }
    expect_raise('pause-tube of a bad name', Beaneater::BadFormatError) { c.tubes['-bad'].pause(1) }
    expect_raise('ignore of a bad name', Beaneater::BadFormatError) { c.tubes.ignore('-bad') }
    expect_eq('tubes.used unchanged by refused use', name, c.tubes.used.name)
    expect_eq('tubes.watched unchanged by refused watch', [name], c.tubes.watched.map(&:name))
  end
end

# ------------------------------------------------------------------ put and job stats

check 'put with pri, delay, ttr; job.stats of a ready job' do
  with_clients do |c|
    name = fresh_tube('put')
    tube = c.tubes[name]
    id = put(tube, 'hello', pri: 10, delay: 0, ttr: 30)
    s = c.jobs.find(id).stats
    expect_eq('id', id.to_i, s.id)
    expect_eq('tube', name, s.tube)
    expect_eq('state', 'ready', s.state)
    expect_eq('pri', 10, s.pri)
    expect_eq('delay', 0, s.delay)
    expect_eq('ttr', 30, s.ttr)
    expect_eq('time-left', 0, s.time_left)
    expect_in('age', 0..1, s.age)
    expect_eq('file', 0, s.file)
    %w[reserves timeouts releases buries kicks].each { |k| expect_eq(k, 0, s[k]) }
    expect_eq('stats keys',
              %w[id tube state pri age delay ttr time_left file reserves timeouts releases buries kicks],
              s.keys)
  end
end

check 'put with a delay: job.stats of a delayed job' do
  with_clients do |c|
    tube = c.tubes[fresh_tube('delayed')]
    id = put(tube, 'later', pri: 7, delay: 5, ttr: 60)
    s = c.jobs.find(id).stats
    expect_eq('state', 'delayed', s.state)
    expect_eq('delay', 5, s.delay)
    expect_in('time-left', 4..5, s.time_left)
    expect_eq('pri', 7, s.pri)
    expect_eq('ttr', 60, s.ttr)
    expect_eq('peek(:delayed)', id, tube.peek(:delayed)&.id)
    expect_eq('peek(:ready)', nil, tube.peek(:ready))
  end
end

check 'put edge values: ttr 0 becomes 1, largest priority, default options' do
  with_clients do |c|
    tube = c.tubes[fresh_tube('edge')]
    s = c.jobs.find(put(tube, 'ttr0', ttr: 0)).stats
    expect_eq('ttr 0 raised to', 1, s.ttr)
    s = c.jobs.find(put(tube, 'maxpri', pri: 4_294_967_295)).stats
    expect_eq('pri 2**32-1', 4_294_967_295, s.pri)
    s = c.jobs.find(put(tube, 'defaults')).stats # beaneater: pri 65536, delay 0, ttr 120
    expect_eq('default pri', 65_536, s.pri)
    expect_eq('default ttr', 120, s.ttr)
    expect_eq('default delay', 0, s.delay)
    # A refused put line leaves its body to be read as a command of its own,
    # which puts beaneater's replies out of step: use a throwaway connection.
    [[{ pri: 4_294_967_296 }, 'pri 2**32'], [{ delay: -1 }, 'negative delay']].each do |opts, what|
      with_clients do |x|
        expect_raise(what, Beaneater::BadFormatError) { x.tubes[tube.name].put('x', opts) }
      end
    end
  end
end

check 'ids increase and put answers a fresh id each time' do
  with_clients do |c|
    tube = c.tubes[fresh_tube('ids')]
    ids = Array.new(5) { put(tube, 'x').to_i }
    expect_eq('ids strictly increasing', ids.sort.uniq, ids)
  end
end

# ------------------------------------------------------------------ reserve

check 'tubes.reserve returns a ready job; job.stats of a reserved job' do
  with_clients do |c|
    name = fresh_tube('reserve')
    tube = c.tubes[name]
    id = put(tube, 'work', pri: 3, ttr: 30)
    c.tubes.watch!(name)
    job = c.tubes.reserve # no timeout: a job is ready
    expect_eq('id', id, job.id)
    expect_eq('body', 'work', job.body)
    expect_eq('job.reserved', true, job.reserved)
    expect_eq('job.tube', name, job.tube)
    s = job.stats
    expect_eq('state', 'reserved', s.state)
    expect_eq('reserves', 1, s.reserves)
    expect_in('time-left', 29..30, s.time_left)
    ts = tube.stats
    expect_eq('tube current-jobs-reserved', 1, ts.current_jobs_reserved)
    expect_eq('tube current-jobs-ready', 0, ts.current_jobs_ready)
    expect_eq('peek(:ready) while reserved', nil, tube.peek(:ready))
  end
end

check 'reserve with timeout 0 on an empty tube raises TimedOutError' do
  with_clients do |c|
    name = fresh_tube('empty')
    c.tubes.watch!(name)
    t0 = now
    e = expect_raise('tubes.reserve(0)', Beaneater::TimedOutError) { c.tubes.reserve(0) }
    expect_eq('status', 'TIMED_OUT', e.status)
    expect("answered at once (#{(now - t0).round(3)} s)", now - t0 < 0.5)
    expect_raise('tube.reserve(0)', Beaneater::TimedOutError) { c.tubes[name].reserve(0) }
    t0 = now
    expect_raise('tubes.reserve(1)', Beaneater::TimedOutError) { c.tubes.reserve(1) }
    expect_in('reserve(1) waited about 1 s', 0.8..2.5, now - t0)
  end
end

check 'a waiting reserve is counted in current-waiting and woken by a put' do
  with_clients(2) do |worker, producer|
    name = fresh_tube('waiting')
    worker.tubes.watch!(name)
    waiter = Thread.new { worker.tubes.reserve(5) }
    waiter.report_on_exception = false
    tube = producer.tubes[name]
    wait_until('current-waiting 1', 2) { tube.stats.current_waiting == 1 }
    expect_in('server current-waiting', 1..1000, producer.stats.current_waiting)
    expect_eq('current-watching', 1, tube.stats.current_watching)
    id = put(tube, 'wake up')
    job = waiter.value
    expect_eq('woken with', id, job.id)
    expect_eq('body', 'wake up', job.body)
    ts = tube.stats
    expect_eq('current-waiting after', 0, ts.current_waiting)
    expect_eq('current-using', 1, ts.current_using)
  end
end

# ------------------------------------------------------------------ delete and find

check 'jobs.find: found, unknown id, deleted job' do
  with_clients do |c|
    tube = c.tubes[fresh_tube('find')]
    id = put(tube, 'findme')
    job = c.jobs.find(id)
    expect('jobs.find returns a job', job.is_a?(Beaneater::Job))
    expect_eq('id', id, job.id)
    expect_eq('body', 'findme', job.body)
    expect_eq('reserved', false, job.reserved)
    expect_eq('jobs[id]', id, c.jobs[id]&.id)
    expect_eq('unknown id', nil, c.jobs.find(999_999_999))
    job.delete
    expect_eq('after delete', nil, c.jobs.find(id))
  end
end

check 'job.delete; deleting again raises NotFoundError' do
  with_clients do |c|
    name = fresh_tube('delete')
    tube = c.tubes[name]
    id = put(tube, 'gone soon')
    c.tubes.watch!(name)
    job = c.tubes.reserve(0)
    deletes_before = c.stats.cmd_delete
    res = job.delete
    expect_eq('delete status', 'DELETED', res[:status])
    expect_eq('exists?', false, job.exists?)
    e = expect_raise('second delete', Beaneater::NotFoundError) { job.delete }
    expect_eq('status', 'NOT_FOUND', e.status)
    expect_eq('cmd', "delete #{id}", e.cmd)
    expect_raise('stats of a deleted job', Beaneater::NotFoundError) { job.stats }
    # The server counts both deletes; the tube only the one that found its job.
    expect_eq('server cmd-delete', deletes_before + 2, c.stats.cmd_delete)
    ts = tube.stats
    expect_eq('tube cmd-delete', 1, ts.cmd_delete)
    expect_eq('total-jobs', 1, ts.total_jobs)
    expect_eq('current-jobs-reserved', 0, ts.current_jobs_reserved)
  end
end

# ------------------------------------------------------------------ release, bury, kick, touch

check 'job.release with pri and delay: delayed, then ready after the delay' do
  with_clients do |c|
    name = fresh_tube('release')
    tube = c.tubes[name]
    id = put(tube, 'again', pri: 100, ttr: 30)
    c.tubes.watch!(name)
    job = c.tubes.reserve(0)
    res = job.release(pri: 5, delay: 1)
    expect_eq('release status', 'RELEASED', res[:status])
    s = job.stats
    expect_eq('state', 'delayed', s.state)
    expect_eq('pri', 5, s.pri)
    expect_eq('delay', 1, s.delay)
    expect_in('time-left', 0..1, s.time_left)
    expect_eq('releases', 1, s.releases)
    expect_eq('tube current-jobs-delayed', 1, tube.stats.current_jobs_delayed)
    expect_raise('reserve(0) while delayed', Beaneater::TimedOutError) { c.tubes.reserve(0) }
    t0 = now
    again = c.tubes.reserve(2)
    expect_in('became ready after about 1 s', 0.5..2.0, now - t0)
    expect_eq('same job', id, again.id)
    s = again.stats
    expect_eq('reserves', 2, s.reserves)
    expect_eq('pri kept', 5, s.pri)
    again.delete
  end
end

check 'a released job keeps its place: priority, then id' do
  with_clients do |c|
    name = fresh_tube('fifo-release')
    tube = c.tubes[name]
    first = put(tube, 'first', pri: 50)
    second = put(tube, 'second', pri: 50)
    c.tubes.watch!(name)
    job = c.tubes.reserve(0)
    expect_eq('first reserve', first, job.id)
    job.release(delay: 0)
    expect_eq('state after release', 'ready', job.stats.state)
    expect_eq('reserve after release', first, c.tubes.reserve(0).id)
    expect_eq('then', second, c.tubes.reserve(0).id)
  end
end

check 'job.bury, bury with pri, tube.peek(:buried/:ready/:delayed)' do
  with_clients do |c|
    name = fresh_tube('bury')
    tube = c.tubes[name]
    id = put(tube, 'bury me', pri: 20)
    c.tubes.watch!(name)
    job = c.tubes.reserve(0)
    res = job.bury(pri: 7)
    expect_eq('bury status', 'BURIED', res[:status])
    s = job.stats
    expect_eq('state', 'buried', s.state)
    expect_eq('buries', 1, s.buries)
    expect_eq('pri', 7, s.pri)
    peeked = tube.peek(:buried)
    expect_eq('peek(:buried) id', id, peeked&.id)
    expect_eq('peek(:buried) body', 'bury me', peeked&.body)
    expect_eq('peek(:ready)', nil, tube.peek(:ready))
    expect_eq('peek(:delayed)', nil, tube.peek(:delayed))
    expect_eq('tube current-jobs-buried', 1, tube.stats.current_jobs_buried)
    expect_raise('reserve(0) with only a buried job', Beaneater::TimedOutError) { c.tubes.reserve(0) }
    expect_raise('bury a job that is not reserved', Beaneater::JobNotReserved) { job.bury }
  end
end

check 'tube.kick(n) kicks buried jobs oldest first; job.kick' do
  with_clients do |c|
    name = fresh_tube('kick-buried')
    tube = c.tubes[name]
    c.tubes.watch!(name)
    ids = Array.new(3) { |i| put(tube, "b#{i}", pri: 10 - i) }
    # Reserved in priority order (b2, b1, b0) and buried in that order.
    buried = Array.new(3) { c.tubes.reserve(0).tap(&:bury).id }
    expect_eq('burial order', ids.reverse, buried)
    id_delayed = put(tube, 'delayed', delay: 30)
    res = tube.kick(2)
    expect_eq('kick status', 'KICKED', res[:status])
    expect_eq('kicked count', '2', res[:id])
    ts = tube.stats
    expect_eq('ready after kick 2', 2, ts.current_jobs_ready)
    expect_eq('buried after kick 2', 1, ts.current_jobs_buried)
    expect_eq('delayed untouched', 1, ts.current_jobs_delayed)
    expect_eq('still buried: the last one buried', buried[2], tube.peek(:buried)&.id)
    expect_eq('kicks of a kicked job', 1, c.jobs.find(buried[0]).stats.kicks)
    last = c.jobs.find(buried[2])
    expect_eq('job.kick status', 'KICKED', last.kick[:status])
    s = last.stats
    expect_eq('state after job.kick', 'ready', s.state)
    expect_eq('kicks', 1, s.kicks)
    expect_raise('job.kick of a ready job', Beaneater::NotFoundError) { last.kick }
    expect_eq('kick with nothing buried kicks delayed', '1', tube.kick(10)[:id])
    expect_eq('delayed job now ready', 'ready', c.jobs.find(id_delayed).stats.state)
    expect_eq('kick 0', '0', tube.kick(0)[:id])
  end
end

check 'job.kick of a delayed job' do
  with_clients do |c|
    tube = c.tubes[fresh_tube('kick-delayed')]
    id = put(tube, 'wait', delay: 30)
    job = c.jobs.find(id)
    expect_eq('job.kick status', 'KICKED', job.kick[:status])
    s = job.stats
    expect_eq('state', 'ready', s.state)
    expect_eq('kicks', 1, s.kicks)
    expect_eq('peek(:ready)', id, tube.peek(:ready)&.id)
    job.delete
    expect_raise('job.kick of a deleted job', Beaneater::NotFoundError) { job.kick }
  end
end

check 'job.touch restarts the TTR' do
  with_clients do |c|
    name = fresh_tube('touch')
    put(c.tubes[name], 'touch me', ttr: 100)
    c.tubes.watch!(name)
    job = c.tubes.reserve(0)
    expect_in('time-left after reserve', 98..99, job.stats.time_left)
    sleep 1.1
    # Ranges, not exact values, so that a slow machine does not fail the
    # check; what proves the touch is that time-left goes back up.
    before_touch = job.stats.time_left
    expect_in('time-left after 1.1 s', 0..98, before_touch)
    expect_eq('touch status', 'TOUCHED', job.touch[:status])
    after_touch = job.stats.time_left
    expect_in('time-left after touch', 98..99, after_touch)
    raise CheckFailed, "touch did not restart the TTR: #{before_touch} -> #{after_touch}" unless after_touch > before_touch
    expect_eq('still reserved', 'reserved', job.stats.state)
  end
end

check 'touch, release, bury of a job reserved by another connection: NOT_FOUND' do
  with_clients(2) do |owner, other|
    name = fresh_tube('foreign')
    put(owner.tubes[name], 'mine')
    owner.tubes.watch!(name)
    job = owner.tubes.reserve(0)
    foreign = other.jobs.find(job.id) # reserved? asks stats-job: "reserved"
    expect_raise('touch', Beaneater::NotFoundError) { foreign.touch }
    expect_raise('release', Beaneater::NotFoundError) { foreign.release }
    expect_raise('bury', Beaneater::NotFoundError) { foreign.bury }
    expect_raise('delete', Beaneater::NotFoundError) { foreign.delete }
    expect_eq('still reserved by its owner', 'reserved', job.stats.state)
    expect_eq('owner can delete it', 'DELETED', job.delete[:status])
  end
end

# ------------------------------------------------------------------ pause

check 'tube.pause: stats fields, reserve waits, peek ignores the pause' do
  with_clients do |c|
    name = fresh_tube('pause')
    tube = c.tubes[name]
    id = put(tube, 'paused job')
    expect_eq('pause status', 'PAUSED', tube.pause(1)[:status])
    ts = tube.stats
    expect_eq('pause', 1, ts.pause)
    expect_in('pause-time-left', 0..1, ts.pause_time_left)
    expect_eq('cmd-pause-tube', 1, ts.cmd_pause_tube)
    expect_eq('peek(:ready) ignores the pause', id, tube.peek(:ready)&.id)
    c.tubes.watch!(name)
    expect_raise('reserve(0) on a paused tube', Beaneater::TimedOutError) { c.tubes.reserve(0) }
    t0 = now
    job = c.tubes.reserve(3)
    expect_in('reserved when the pause ended', 0.5..2.0, now - t0)
    expect_eq('job', id, job.id)
    ts = tube.stats
    expect_eq('pause after it ended', 0, ts.pause)
    expect_eq('pause-time-left after it ended', 0, ts.pause_time_left)
    expect_raise('pause of an unknown tube', Beaneater::NotFoundError) do
      c.tubes[fresh_tube('no-such-tube')].pause(1)
    end
  end
end

check 'tube.pause(0) unpauses at once' do
  with_clients do |c|
    name = fresh_tube('unpause')
    tube = c.tubes[name]
    id = put(tube, 'x')
    tube.pause(60)
    expect_in('pause-time-left', 59..60, tube.stats.pause_time_left)
    c.tubes.watch!(name)
    expect_raise('reserve(0) while paused', Beaneater::TimedOutError) { c.tubes.reserve(0) }
    tube.pause(0)
    expect_eq('pause', 0, tube.stats.pause)
    expect_eq('reserve(0) after unpause', id, c.tubes.reserve(0).id)
    expect_eq('cmd-pause-tube', 2, tube.stats.cmd_pause_tube)
  end
end

# ------------------------------------------------------------------ tube stats

check 'tube.stats counters' do
  with_clients(2) do |producer, worker|
    name = fresh_tube('counters')
    tube = producer.tubes[name]
    worker.tubes.watch!(name)
    a = put(tube, 'a', pri: 5)
    b = put(tube, 'b', pri: 6)
    d = put(tube, 'd', pri: 1, delay: 30)
    expect_eq('first reserve', a, worker.tubes.reserve(0).id) # stays reserved
    second = worker.tubes.reserve(0)
    expect_eq('second reserve', b, second.id)
    second.bury
    put(tube, 'c', pri: 500)      # ready, urgent (< 1024)
    e = put(tube, 'e', pri: 2000) # ready
    ts = tube.stats
    expect_eq('keys', %w[name current_jobs_urgent current_jobs_ready current_jobs_reserved
                         current_jobs_delayed current_jobs_buried total_jobs current_using
                         current_watching current_waiting cmd_delete cmd_pause_tube pause
                         pause_time_left], ts.keys)
    expect_eq('name', name, ts.name)
    expect_eq('current-jobs-urgent', 1, ts.current_jobs_urgent)
    expect_eq('current-jobs-ready', 2, ts.current_jobs_ready)
    expect_eq('current-jobs-reserved', 1, ts.current_jobs_reserved)
    expect_eq('current-jobs-delayed', 1, ts.current_jobs_delayed)
    expect_eq('current-jobs-buried', 1, ts.current_jobs_buried)
    expect_eq('total-jobs', 5, ts.total_jobs)
    expect_eq('current-using', 1, ts.current_using)
    expect_eq('current-watching', 1, ts.current_watching)
    expect_eq('current-waiting', 0, ts.current_waiting)
    expect_eq('cmd-delete', 0, ts.cmd_delete)
    expect_eq('cmd-pause-tube', 0, ts.cmd_pause_tube)
    producer.jobs.find(d).delete
    producer.jobs.find(e).delete
    tube.pause(0)
    ts = tube.stats
    expect_eq('cmd-delete after 2 deletes', 2, ts.cmd_delete)
    expect_eq('cmd-pause-tube after pause', 1, ts.cmd_pause_tube)
    expect_eq('current-jobs-delayed after delete', 0, ts.current_jobs_delayed)
    expect_eq('current-jobs-ready after delete', 1, ts.current_jobs_ready)
    expect_eq('total-jobs is cumulative', 5, ts.total_jobs)
    worker.tubes.use(name)
    expect_eq('current-using with two users', 2, tube.stats.current_using)
  end
end

# ------------------------------------------------------------------ server stats

SERVER_STAT_KEYS = %w[
  current_jobs_urgent current_jobs_ready current_jobs_reserved current_jobs_delayed
  current_jobs_buried cmd_put cmd_peek cmd_peek_ready cmd_peek_delayed cmd_peek_buried
  cmd_reserve cmd_reserve_with_timeout cmd_delete cmd_release cmd_use cmd_watch
  cmd_ignore cmd_bury cmd_kick cmd_touch cmd_stats cmd_stats_job cmd_stats_tube
  cmd_list_tubes cmd_list_tube_used cmd_list_tubes_watched cmd_pause_tube job_timeouts
  total_jobs max_job_size current_tubes current_connections current_producers
  current_workers current_waiting total_connections pid version rusage_utime
  rusage_stime uptime binlog_oldest_index binlog_current_index binlog_records_migrated
  binlog_records_written binlog_max_size draining id hostname os platform
].freeze

check 'server stats: every key present and parsed' do
  with_clients do |c|
    st = c.stats
    expect_eq('keys (in order)', SERVER_STAT_KEYS, st.keys)
    text_keys = %w[version rusage_utime rusage_stime draining id hostname os platform]
    (SERVER_STAT_KEYS - text_keys).each do |k|
      v = st[k]
      expect("#{k} is a non-negative Integer: #{v.inspect}", v.is_a?(Integer) && v >= 0)
    end
    expect("version is a non-empty String: #{st.version.inspect}",
           st.version.is_a?(String) && !st.version.empty?)
    %w[rusage_utime rusage_stime].each do |k|
      v = st[k]
      expect("#{k} is a non-negative Float: #{v.inspect}", v.is_a?(Float) && v >= 0)
    end
    expect_eq('draining', false, st.draining)
    # 16 hex digits; YAML reads an all-digit id as an Integer.
    id = st.id
    expect("id is 16 hex digits: #{id.inspect}",
           (id.is_a?(String) && id =~ /\A\h{16}\z/) || (id.is_a?(Integer) && id >= 0))
    expect_eq('id is stable', id, st.id)
    expect("hostname present: #{st.hostname.inspect}", !st.hostname.to_s.empty?)
    expect("platform is a non-empty String: #{st.platform.inspect}",
           st.platform.is_a?(String) && !st.platform.empty?)
    # 1.12 writes os unquoted and it usually starts with '#', which YAML
    # reads as a comment (nil); quoted (as in 1.13) it is a String.
    expect("os is a String or nil: #{st.os.inspect}", st.os.nil? || st.os.is_a?(String))
    expect_eq('max-job-size', MAX_JOB_SIZE, st.max_job_size)
    expect("pid is positive: #{st.pid.inspect}", st.pid.is_a?(Integer) && st.pid > 0)
    expect_eq('pid is stable', st.pid, st.pid)
    if %w[127.0.0.1 localhost ::1].include?(HOST)
      alive = begin
        Process.kill(0, st.pid)
        true
      rescue Errno::EPERM
        true
      rescue Errno::ESRCH
        false
      end
      expect("pid #{st.pid} is a running process", alive)
    end
    up = st.uptime
    expect_in('uptime', 0..3600, up)
    expect("uptime does not go back", st.uptime >= up)
    expect_eq('binlog-current-index without -b', 0, st.binlog_current_index)
    expect_eq('binlog-records-written without -b', 0, st.binlog_records_written)
    n = st.cmd_stats
    expect_eq('cmd-stats counts each stats command', n + 1, st.cmd_stats)
    expect("current-jobs-urgent <= current-jobs-ready",
           st.current_jobs_urgent <= st.current_jobs_ready)
    expect("cmd-put >= total-jobs", st.cmd_put >= st.total_jobs)
    expect("total-connections >= current-connections >= 1",
           st.total_connections >= st.current_connections && st.current_connections >= 1)
    expect("current-producers and current-workers <= current-connections",
           st.current_producers <= st.current_connections &&
           st.current_workers <= st.current_connections)
  end
end

check 'server stats: counters follow use, put, watch, reserve, delete, peek' do
  with_clients do |c|
    keys = %w[cmd_put total_jobs current_jobs_ready current_jobs_urgent current_jobs_reserved
              current_tubes cmd_use cmd_watch cmd_ignore cmd_reserve_with_timeout cmd_delete
              cmd_peek]
    s0 = server_stats(c, *keys)
    name = fresh_tube('server-counters')
    c.tubes.use(name)
    id = put(c.tubes[name], 'counted', pri: 0)
    s1 = server_stats(c, *keys)
    expect_eq('cmd-put', s0['cmd_put'] + 1, s1['cmd_put'])
    expect_eq('total-jobs', s0['total_jobs'] + 1, s1['total_jobs'])
    expect_eq('current-jobs-ready', s0['current_jobs_ready'] + 1, s1['current_jobs_ready'])
    expect_eq('current-jobs-urgent', s0['current_jobs_urgent'] + 1, s1['current_jobs_urgent'])
    expect_eq('current-tubes', s0['current_tubes'] + 1, s1['current_tubes'])
    expect_eq('cmd-use', s0['cmd_use'] + 1, s1['cmd_use'])
    c.tubes.watch!(name) # list-tubes-watched, watch, ignore default
    job = c.tubes.reserve(0)
    expect_eq('reserved', id, job.id)
    s2 = server_stats(c, *keys)
    expect_eq('cmd-watch', s1['cmd_watch'] + 1, s2['cmd_watch'])
    expect_eq('cmd-ignore', s1['cmd_ignore'] + 1, s2['cmd_ignore'])
    expect_eq('cmd-reserve-with-timeout', s1['cmd_reserve_with_timeout'] + 1, s2['cmd_reserve_with_timeout'])
    expect_eq('current-jobs-reserved', s1['current_jobs_reserved'] + 1, s2['current_jobs_reserved'])
    expect_eq('current-jobs-ready', s1['current_jobs_ready'] - 1, s2['current_jobs_ready'])
    expect_eq('current-jobs-urgent', s1['current_jobs_urgent'] - 1, s2['current_jobs_urgent'])
    job.delete # beaneater's delete sends just `delete`
    c.jobs.find(id) # peek <id>: NOT_FOUND, still counted
    s3 = server_stats(c, *keys)
    expect_eq('cmd-delete', s2['cmd_delete'] + 1, s3['cmd_delete'])
    expect_eq('cmd-peek', s2['cmd_peek'] + 1, s3['cmd_peek'])
    expect_eq('current-jobs-reserved', s2['current_jobs_reserved'] - 1, s3['current_jobs_reserved'])
    expect_eq('total-jobs unchanged by delete', s2['total_jobs'], s3['total_jobs'])
  end
end

check 'server stats: connections, producers, workers' do
  with_clients do |c|
    st = c.stats
    cur0, tot0 = st.current_connections, st.total_connections
    prod0, work0 = st.current_producers, st.current_workers
    with_clients(2) do |p, w|
      put(p.tubes[fresh_tube('producer')], 'p')
      w.tubes.watch!(fresh_tube('worker'))
      expect_raise('worker reserve(0)', Beaneater::TimedOutError) { w.tubes.reserve(0) }
      expect_eq('current-connections', cur0 + 2, st.current_connections)
      expect_eq('total-connections', tot0 + 2, st.total_connections)
      expect_eq('current-producers', prod0 + 1, st.current_producers)
      expect_eq('current-workers', work0 + 1, st.current_workers)
    end
    wait_until('connections closed', 2) { st.current_connections == cur0 }
    expect_eq('current-producers after close', prod0, st.current_producers)
    expect_eq('current-workers after close', work0, st.current_workers)
    expect_eq('total-connections after close', tot0 + 2, st.total_connections)
  end
end

# ------------------------------------------------------------------ TTR

check 'DEADLINE_SOON: reserving again while holding a job about to time out' do
  with_clients do |c|
    name = fresh_tube('deadline')
    id = put(c.tubes[name], 'hurry', ttr: 1)
    c.tubes.watch!(name)
    job = c.tubes.reserve(0)
    expect_eq('reserved', id, job.id)
    t0 = now
    e = expect_raise('second reserve', Beaneater::DeadlineSoonError) { c.tubes.reserve(2) }
    expect_eq('status', 'DEADLINE_SOON', e.status)
    expect("answered at once (#{(now - t0).round(3)} s)", now - t0 < 0.5)
    expect_eq('job still reserved', 'reserved', job.stats.state)
    job.delete
  end
end

check 'TTR expiry puts the job back to ready and counts a timeout' do
  with_clients do |c|
    name = fresh_tube('ttr')
    id = put(c.tubes[name], 'slow worker', ttr: 1)
    before = c.stats.job_timeouts
    c.tubes.watch!(name)
    job = c.tubes.reserve(0)
    t0 = now
    wait_until('job back to ready', 3) { job.stats.state == 'ready' }
    expect_in('TTR ran out after about 1 s', 0.5..2.5, now - t0)
    s = job.stats
    expect_eq('timeouts', 1, s.timeouts)
    expect_eq('reserves', 1, s.reserves)
    expect_eq('releases', 0, s.releases)
    expect_eq('server job-timeouts', before + 1, c.stats.job_timeouts)
    again = c.tubes.reserve(0)
    expect_eq('reserved again', id, again.id)
    expect_eq('reserves after re-reserve', 2, again.stats.reserves)
    again.delete
  end
end

# ------------------------------------------------------------------ bodies

# Puts `body`, reserves it and peeks it; both must give the same bytes.
def round_trip(c, tag, body)
  name = fresh_tube(tag)
  id = put(c.tubes[name], body)
  expect_eq("#{tag}: job size", body.bytesize, c.jobs.find(id).body.bytesize)
  expect_bytes("#{tag}: peeked body", body, c.jobs.find(id).body)
  c.tubes.watch!(name)
  job = c.tubes.reserve(0)
  expect_eq("#{tag}: reserved id", id, job.id)
  expect_bytes("#{tag}: reserved body", body, job.body)
  job.delete
  job.body
end

check 'binary body with CRLF and NUL bytes is byte-exact' do
  with_clients do |c|
    body = "a\r\nb\x00c\r\n\r\n\x00\xFF\xFE\x80 put 0 0 1 1\r\n".b
    got = round_trip(c, 'binary', body)
    expect_eq('encoding of a returned body', Encoding::ASCII_8BIT, got.encoding)
    round_trip(c, 'crlf-only', "\r\n")
    round_trip(c, 'nul-only', "\x00")
  end
end

check 'UTF-8 body is byte-exact' do
  with_clients do |c|
    body = "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e \u{1F680}"
    expect_eq('character count differs from byte count', [19, 32], [body.length, body.bytesize])
    got = round_trip(c, 'utf8', body)
    text = got.dup.force_encoding(Encoding::UTF_8)
    expect('valid UTF-8 once re-tagged', text.valid_encoding?)
    expect_eq('text', body, text)
  end
end

check 'empty body' do
  with_clients do |c|
    got = round_trip(c, 'empty', '')
    expect_eq('body', '', got)
  end
end

check '60,000-byte body and a body of exactly max-job-size' do
  with_clients do |c|
    body = Random.new(1234).bytes(60_000)
    body[100, 2] = "\r\n"
    body[30_000, 4] = "\x00\r\n\x00"
    body[-2, 2] = "\r\n"
    expect_eq('body size', 60_000, body.bytesize)
    round_trip(c, 'big', body)
    round_trip(c, 'max', ('0123456789abcdef' * 4096)[0, MAX_JOB_SIZE])
  end
end

check 'job too big raises JobTooBigError and the connection stays usable' do
  with_clients do |c|
    name = fresh_tube('too-big')
    tube = c.tubes[name]
    e = expect_raise('put of max-job-size + 1 bytes', Beaneater::JobTooBigError) do
      tube.put('x' * (MAX_JOB_SIZE + 1))
    end
    expect_eq('status', 'JOB_TOO_BIG', e.status)
    expect_raise('put of 200,000 bytes', Beaneater::JobTooBigError) { tube.put("\r\n" * 100_000) }
    id = put(tube, 'small after big')
    expect_eq('tube has only the small job', 1, tube.stats.total_jobs)
    expect_eq('body after big', 'small after big', c.jobs.find(id).body)
  end
end

# ------------------------------------------------------------------ ordering

check '500 jobs come back in priority, then FIFO, order' do
  with_clients do |c|
    name = fresh_tube('order')
    tube = c.tubes[name]
    pris = [0, 4_294_967_295, 1024, 1, 1023, 65_536, 7]
    jobs = Array.new(500) do |i|
      pri = pris[(i * 5 + i / 7) % pris.size]
      [pri, put(tube, "job #{i}", pri: pri).to_i, "job #{i}"]
    end
    expect_eq('jobs in tube', 500, tube.stats.current_jobs_ready)
    expected = jobs.sort_by { |pri, id, _| [pri, id] }
    c.tubes.watch!(name)
    got = Array.new(500) do
      job = c.tubes.reserve(0)
      job.delete
      [job.id.to_i, job.body]
    end
    want = expected.map { |_, id, body| [id, body] }
    bad = (0...500).find { |i| want[i] != got[i] }
    if bad
      raise CheckFailed, "order differs at position #{bad}: expected #{want[bad].inspect}, " \
                         "got #{got[bad].inspect}"
    end
    expect_raise('tube empty afterwards', Beaneater::TimedOutError) { c.tubes.reserve(0) }
  end
end

# ------------------------------------------------------------------ processing loop

check 'jobs.register and process!: delete, release with release_delay, bury, abort' do
  with_clients(2) do |producer, worker|
    name = fresh_tube('process')
    tube = producer.tubes[name]
    ok = put(tube, 'ok', pri: 1)
    flaky = put(tube, 'flaky', pri: 2)
    broken = put(tube, 'broken', pri: 3)
    stop = put(tube, 'stop', pri: 4)
    retry_error = Class.new(StandardError)
    seen = []
    worker.jobs.register(name, retry_on: [retry_error], max_retries: 1) do |job|
      seen << job.body
      case job.body
      when 'flaky' then raise retry_error, 'try again later'
      when 'broken' then raise 'cannot process'
      when 'stop' then raise Beaneater::AbortProcessingError
      end
    end
    t0 = now
    worker.jobs.process!(release_delay: 1, reserve_timeout: 1)
    expect("process! returned quickly (#{(now - t0).round(3)} s)", now - t0 < 0.9)
    expect_eq('jobs handled', %w[ok flaky broken stop], seen)
    expect_eq('ok job deleted', nil, producer.jobs.find(ok))
    s = producer.jobs.find(flaky).stats
    expect_eq('flaky released', 'delayed', s.state)
    expect_eq('flaky release delay', 1, s.delay)
    expect_eq('flaky releases', 1, s.releases)
    s = producer.jobs.find(broken).stats
    expect_eq('broken buried', 'buried', s.state)
    expect_eq('broken buries', 1, s.buries)
    expect_eq('stop job buried by the loop', 'buried', producer.jobs.find(stop).stats.state)
    expect_eq('worker watches the registered tube', [name], worker.tubes.watched.map(&:name))
    ts = tube.stats
    expect_eq('tube buried', 2, ts.current_jobs_buried)
    expect_eq('tube reserved', 0, ts.current_jobs_reserved)
    expect_eq('tube cmd-delete', 1, ts.cmd_delete)
  end
end

# ------------------------------------------------------------------ summary

puts "beaneater: #{$passed} passed, #{$failed} failed"
exit($failed.zero? && $passed.positive? ? 0 : 1)
