-- The SCIM server's requests for wrk (https://github.com/wg/wrk, Debian's `wrk` 4.1), as
-- `cargo xtask bench --wrk` runs it; see README.md in this folder.
--
--   SCIM_BENCH_KEY=KEY wrk -t1 -c16 -d5s --latency -s docs/perf/scim.lua \
--       http://127.0.0.1:PORT/scim/v2 -- MODE [FILE]
--
-- The URL's path is the SCIM base path. MODE is one of
--   livez             GET /livez (from the root: the URL's path is not used)
--   get               GET {base}/Users/{id}, the ids of FILE in turn
--   filter-hit        GET {base}/Users?filter=userName eq "{name}", the userNames of FILE in turn
--   patch-suspend     PATCH {base}/Users/{id} replacing `active`, the ids of FILE in turn: false
--                     on the first pass over FILE, true on the second, false on the third, …
--                     (a PATCH that changes nothing writes nothing, so every one must change
--                     the user: start with every user of FILE active)
--   patch-reactivate  the same with true first (start with every user suspended)
--   group-add         PATCH {base}/Groups/{group} adding one member, as the bench's group-patch
--                     phase: the ids of FILE in turn as members, the groups of GROUPS (a second
--                     file of group ids) in turn as groups; answered with the group and its
--                     members (each id of FILE should be added once: give a FILE longer than
--                     the run's requests, or the adds after it repeat and change nothing)
--   list              GET {base}/Users?startIndex=S&count=100, S = 1, 101, 201, … up to the
--                     number of users given instead of FILE (as the bench's list phase)
--   delete            DELETE {base}/Users/{id}, the ids of FILE in turn (each once: give a FILE
--                     longer than the run's requests, or the deletes after it answer 404)
-- FILE holds one id or userName a line. SCIM_BENCH_KEY is the bearer key (livez needs none).
--
-- Every response is checked: one that is not 2xx, or a 2xx whose body lacks what the mode
-- expects (`"totalResults":1,` for filter-hit), is counted, and done() prints the counts as
--   scim.lua: MODE: N responses, N not 2xx, N unexpected
-- wrk itself counts only socket errors and statuses over 399 ("Non-2xx or 3xx responses").
--
-- Run it with one thread (-t1), as the bench does: each thread goes through FILE from its
-- first line, so two threads would send the same PATCH twice (the second one a no-op).

-- Globals, not locals: done() runs in wrk's main Lua state and reads them from each thread.
mode = nil
responses, not_2xx, unexpected = 0, 0, 0

local prepared = {} -- every request of the mode, formatted, sent in turn
local sent = 0
local expect = nil -- text a 2xx body must hold
local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
end

-- Percent-encodes everything but RFC 3986's unreserved characters.
local function encode(s)
   return (s:gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

local function lines(path)
   if not path then
      error("mode " .. mode .. " needs a FILE of ids or userNames after it")
   end
   local f = assert(io.open(path, "r"))
   local out = {}
   for line in f:lines() do
      if line ~= "" then
         out[#out + 1] = line
      end
   end
   f:close()
   if #out == 0 then
      error(path .. " is empty")
   end
   return out
end

local function patch_active(value)
   return '{"Operations":[{"op":"replace","path":"active","value":' .. tostring(value)
      .. '}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}'
end

function init(args)
   mode = args[1]
   local base = wrk.path:gsub("/+$", "")
   local headers = { Accept = "application/scim+json" }
   local key = os.getenv("SCIM_BENCH_KEY")
   if key and key ~= "" then
      headers["Authorization"] = "Bearer " .. key
   elseif mode ~= "livez" then
      error("set SCIM_BENCH_KEY to a bearer key of the server")
   end

   if mode == "livez" then
      expect = "live"
      prepared[1] = wrk.format("GET", "/livez", headers)
   elseif mode == "get" then
      expect = '"userName"'
      for i, id in ipairs(lines(args[2])) do
         prepared[i] = wrk.format("GET", base .. "/Users/" .. id, headers)
      end
   elseif mode == "filter-hit" then
      expect = '"totalResults":1,'
      for i, name in ipairs(lines(args[2])) do
         local filter = encode('userName eq "' .. name .. '"')
         prepared[i] = wrk.format("GET", base .. "/Users?filter=" .. filter, headers)
      end
   elseif mode == "patch-suspend" or mode == "patch-reactivate" then
      expect = '"active":'
      headers["Content-Type"] = "application/scim+json"
      local first = mode == "patch-reactivate"
      local ids = lines(args[2])
      local n = #ids
      -- A pass with the first value, then one with the other: every PATCH changes its user.
      for i, id in ipairs(ids) do
         local path = base .. "/Users/" .. id
         prepared[i] = wrk.format("PATCH", path, headers, patch_active(first))
         prepared[n + i] = wrk.format("PATCH", path, headers, patch_active(not first))
      end
   elseif mode == "list" then
      expect = '"Resources":'
      local users = tonumber(args[2]) or error("mode list needs the number of users")
      for k = 0, math.max(0, math.floor(users / 100) - 1) do
         prepared[k + 1] = wrk.format("GET", base .. "/Users?startIndex=" .. (1 + 100 * k)
            .. "&count=100", headers)
      end
   elseif mode == "group-add" then
      expect = '"members":'
      headers["Content-Type"] = "application/scim+json"
      local groups = lines(args[3])
      for i, id in ipairs(lines(args[2])) do
         local path = base .. "/Groups/" .. groups[(i - 1) % #groups + 1]
         prepared[i] = wrk.format("PATCH", path, headers,
            '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
            .. '"Operations":[{"op":"add","path":"members","value":[{"value":"' .. id .. '"}]}]}')
      end
   elseif mode == "delete" then
      expect = ""
      for i, id in ipairs(lines(args[2])) do
         prepared[i] = wrk.format("DELETE", base .. "/Users/" .. id, headers)
      end
   else
      error("unknown mode " .. tostring(mode)
         .. ": livez, get, filter-hit, patch-suspend, patch-reactivate, list, group-add or delete")
   end
end

function request()
   local r = prepared[sent % #prepared + 1]
   sent = sent + 1
   return r
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 299 then
      not_2xx = not_2xx + 1
   elseif not body:find(expect, 1, true) then
      unexpected = unexpected + 1
   end
end

function done(summary, latency, requests)
   local r, n, u = 0, 0, 0
   for _, t in ipairs(threads) do
      r = r + t:get("responses")
      n = n + t:get("not_2xx")
      u = u + t:get("unexpected")
   end
   local m = threads[1] and threads[1]:get("mode") or "?"
   io.write(string.format("scim.lua: %s: %d responses, %d not 2xx, %d unexpected\n", m, r, n, u))
end
