-- wrk: POST one offer per request, each with an id of its own (thread number and counter).
local counter = 0
local thread_id = 0
local threads = 0

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"id":"o-%d-%d","location":"n%d","direction":"up","slot":"t%d","quantity":1.0,"price":%d.5}',
    thread_id, counter, counter % 50, counter % 24 + 1, counter % 90 + 10)
  return wrk.format("POST", nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %d errors (status >= 400 or socket)\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
