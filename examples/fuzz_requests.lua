-- Hostile but authenticated traffic for examples/rss_under_load.sh: half junk
-- (random paths, methods, query strings, bodies of 1 B to 256 KiB), half valid
-- prepares, searches, reads and changes with bodies and pads of random sizes.
-- Random requests: paths, methods, query strings and bodies of random sizes.
math.randomseed(os.time())
local paths = {
  "/nex/datastore/v2/metainfo/", "/nex/datastore/v2/metainfo", "/nex/datastore/v2/data/prepare",
  "/nex/datastore/v2/metainfo/search", "/nex/datastore/v2/urlinfo/", "/nex/datastore/v2/data/delete",
  "/nex/datastore/v2/metainfo/ratings", "/nex/datastore/v2/persistenceinfo/", "/storage/nexds",
  "/nex/datastore/v2/data/mine", "/nex/datastore/v2/passwordinfo", "/download/", "/nope",
}
local methods = {"GET", "POST", "PUT", "DELETE"}
local chars = "abcdefghijklmnopqrstuvwxyz<>/=&?%0123456789 \"'"
local function junk(n)
  local t = {}
  for i = 1, n do
    local c = math.random(1, #chars)
    t[i] = chars:sub(c, c)
  end
  return table.concat(t)
end
local bodies = {}
for i = 1, 64 do
  local size = math.floor(2 ^ math.random(0, 18))
  local prefix = ({"<prepare><size>", "<change><name>", "<rate><param>", "<delete>", ""})[math.random(1, 5)]
  bodies[i] = prefix .. string.rep(junk(64), math.ceil(size / 64)):sub(1, size)
end
local function junk_request()
  local path = paths[math.random(1, #paths)] .. junk(math.random(0, 12))
  if math.random() < 0.5 then path = path .. "?" .. junk(math.random(0, 200)) end
  local method = methods[math.random(1, #methods)]
  local body = nil
  if method ~= "GET" then body = bodies[math.random(1, #bodies)] end
  return wrk.format(method, path:gsub(" ", "%%20"), nil, body)
end

-- Valid prepares and searches with bodies and pads of random sizes up to 256 KiB,
-- mixed with junk: the allocation churn of a hostile but authenticated client.

local function pad(n) return string.rep("p", n) end
local bodies = {}
for i = 1, 48 do
  local size = math.floor(2 ^ (math.random() * 17.9))
  bodies[i] = "<prepare><size>0</size><flags><flag>not_use_storageserver</flag></flags>" ..
    "<meta_binary>" .. string.rep("QUFB", math.random(1, 250)) .. "</meta_binary>" ..
    "<tags><tag>dGFn</tag></tags><pad>" .. pad(size) .. "</pad></prepare>"
end
local n = 0
local function valid_request()
  n = n + 1
  local r = math.random()
  if r < 0.5 then
    return wrk.format("POST", "/nex/datastore/v2/data/prepare", nil, bodies[math.random(1, #bodies)])
  elseif r < 0.7 then
    return wrk.format("GET", "/nex/datastore/v2/metainfo/search?tags=dGFn&limit=" .. math.random(1, 200) .. "&response=meta_binary,tags")
  elseif r < 0.85 then
    return wrk.format("GET", "/nex/datastore/v2/metainfo/" .. (1000000 + math.random(0, n)) .. "?response=meta_binary,tags,ratings")
  else
    return wrk.format("PUT", "/nex/datastore/v2/metainfo/" .. (1000000 + math.random(0, n)), nil,
      "<change><name>" .. pad(math.random(1, 80)) .. "</name><pad>" .. pad(math.random(1, 200000)) .. "</pad></change>")
  end
end

request = function()
  if math.random() < 0.5 then return junk_request() end
  return valid_request()
end
