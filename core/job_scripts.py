"""The Lua scripts behind :class:`core.jobs.JobRegistry`, and how to read their replies.

Each script is one atomic step on a job's records: a job is created whole or not at all,
a group's next job is read together with the proof that the caller still holds the group's
mutex, and a job ends (cancelled, finished, failed) once, announcing it in the same step.
Their KEYS and ARGV are documented above each; :mod:`core.jobs` is the only caller.
"""

from __future__ import annotations

from core.models import TERMINAL_JOB_STATES

_TERMINAL = " or ".join(f"s == '{state}'" for state in TERMINAL_JOB_STATES)

# A group being deleted (``closing``, see core.groups) counts as no group: it takes no new job.
# KEYS: group, job, group jobs, group pending, idempotency (or a dummy), extra write keys...
# ARGV: job id, score, fingerprint, idempotency ttl, has key (0/1), channel, event,
#       n, n field/value pairs of the job hash, extra writes JSON ([[cmd, args...], ...]).
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'closing') == 1 then
  return {'nogroup'}
end
if ARGV[5] == '1' then
  local first = redis.call('HGET', KEYS[5], 'job')
  if first then return {'exists', first, redis.call('HGET', KEYS[5], 'fingerprint') or ''} end
  redis.call('HSET', KEYS[5], 'job', ARGV[1], 'fingerprint', ARGV[3])
  redis.call('EXPIRE', KEYS[5], ARGV[4])
end
local n = tonumber(ARGV[8])
redis.call('HSET', KEYS[2], unpack(ARGV, 9, 8 + 2 * n))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('RPUSH', KEYS[4], ARGV[1])
local writes = cjson.decode(ARGV[9 + 2 * n])
for i, write in ipairs(writes) do
  redis.call(write[1], KEYS[5 + i], unpack(write, 2))
end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {'created', ARGV[1]}
"""

# KEYS: group lock, group pending. ARGV: lock token, a finished job to take off the run order
# (or ''), job key template, legs key template ('{id}' stands for the job id).
# Returns {owned (0/1), head id, job hash, legs hash}: the group's next job, read in one trip.
NEXT_IN_LINE = """
if ARGV[2] ~= '' then redis.call('LREM', KEYS[2], 1, ARGV[2]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
local id = redis.call('LINDEX', KEYS[2], 0)
if not id then return {1} end
local job = redis.call('HGETALL', (string.gsub(ARGV[3], '{id}', id)))
local legs = redis.call('HGETALL', (string.gsub(ARGV[4], '{id}', id)))
return {1, id, job, legs}
"""

# KEYS: job. ARGV: finished_at, channel, event. Cancel a job that has not started:
# 1 when cancelled now, 0 when it was cancelled before, else its state (started or done).
CANCEL = """
local s = redis.call('HGET', KEYS[1], 'state')
if s == false then return 'missing' end
if s == 'cancelled' then return 0 end
if s ~= 'queued' then return s end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""

# KEYS: job, legs. ARGV: state, finished_at, error, channel, event, require all legs (0/1).
# Returns 1 when this call finished the job, 0 when it was finished already, -1 when a
# leg has not reported yet.
FINISH = f"""
local s = redis.call('HGET', KEYS[1], 'state')
if s == false or {_TERMINAL} then return 0 end
if ARGV[6] == '1' then
  for _, leg in ipairs(redis.call('HVALS', KEYS[2])) do
    if string.sub(leg, 1, 9) ~= 'reported|' then return -1 end
  end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'finished_at', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""
