#!/usr/bin/env bash
# The console flow with curl: prepare → POST every post_param field in order,
# file last → complete → urlinfo → download, and compare the bytes.
#   NEXDS_URL (default http://127.0.0.1:8080), NEXDS_TOKEN (default: data/title-token)
set -euo pipefail

base=${NEXDS_URL:-http://127.0.0.1:8080}
token=${NEXDS_TOKEN:-$(cat data/title-token)}
v2=$base/nex/datastore/v2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

head -c 65536 /dev/urandom > "$work/upload.bin"
size=$(wc -c < "$work/upload.bin")

# 1. prepare
curl -sf -H "Authorization: Bearer $token" -X POST "$v2/data/prepare" \
  --data-binary "<prepare><size>$size</size></prepare>" > "$work/prepare.xml"
text() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$2" | head -n 1; }
data_id=$(text data_id "$work/prepare.xml")
url=$(text url "$work/prepare.xml")
echo "prepared data_id $data_id; posting $size bytes to $url"

# 2. the form: every post_param child (one per line in the answer), then the file
form=()
while IFS= read -r line; do
  name=$(sed -E 's:^ *<([^>]+)>.*:\1:' <<< "$line")
  value=$(sed -E 's:^ *<[^>]+>(.*)</[^>]+>$:\1:' <<< "$line")
  form+=(--form-string "$name=$value")
done < <(sed -n '/<post_param>/,/<\/post_param>/p' "$work/prepare.xml" | grep -v 'post_param>')
curl -sf "${form[@]}" -F "file=@$work/upload.bin" "$url"
echo "uploaded"

# 3. complete
curl -sf -H "Authorization: Bearer $token" -X POST "$v2/data/complete/$data_id"
echo "completed data_id $data_id"

# 4. urlinfo, 5. download
curl -sf -H "Authorization: Bearer $token" "$v2/urlinfo/$data_id?period=1" > "$work/urlinfo.xml"
download=$(text url "$work/urlinfo.xml" | sed 's/&amp;/\&/g')
curl -sfL -o "$work/download.bin" "$download"
cmp "$work/upload.bin" "$work/download.bin"
echo "downloaded $(wc -c < "$work/download.bin") bytes: identical"
