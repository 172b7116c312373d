#!/usr/bin/env bash
# There is no Docker engine here, so this checks what the image runs instead: the Dockerfile's layout
# (production dependencies only, compiled output, schema, policies, deploy) in a folder owned by root
# and read-only to the unprivileged user that runs the entrypoint, as the pod's read-only root
# filesystem and uid 65532 would.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
app=$(mktemp -d /tmp/storage-policy-image.XXXXXX)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true; rm -rf "$app"; }
trap cleanup EXIT

[ -f "$root/dist/src/cli/main.js" ] || (cd "$root" && npm run build >/dev/null)
cp "$root/package.json" "$root/package-lock.json" "$app/"
(cd "$app" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
mkdir -p "$app/dist"
cp -r "$root/dist/src" "$app/dist/src"
cp -r "$root/schema" "$root/policies" "$root/deploy" "$app/"
chmod -R a+rX,go-w "$app"

if [ -d "$app/node_modules/typescript" ]; then echo "FAIL: dev dependencies in the production layout" >&2; exit 1; fi
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
runner=()
if [ "$(id -u)" = 0 ]; then runner=(setpriv --reuid=65532 --regid=65532 --clear-groups); fi
(cd "$app" && exec "${runner[@]}" env HOME=/nonexistent NODE_ENV=production node dist/src/cli/main.js serve --host 127.0.0.1 --port "$port" --ops-host 127.0.0.1 --ops-port 0 --shutdown-delay-seconds 0) >"$app.log" 2>&1 &
pid=$!
# A tiny HTTPS client (the image's self-signed certificate is not trusted here, hence rejectUnauthorized).
fetch_https() {
  node -e '
    const [path, body] = process.argv.slice(1);
    const request = require("https").request({ host: "127.0.0.1", port: process.env.PORT, path, method: body ? "POST" : "GET", rejectUnauthorized: false, headers: { "content-type": "application/json" } }, (response) => {
      let text = ""; response.on("data", (chunk) => (text += chunk)); response.on("end", () => { process.stdout.write(text); process.exit(response.statusCode === 200 ? 0 : 1); });
    });
    request.on("error", () => process.exit(1));
    request.end(body);' "$@"
}
export PORT=$port
for _ in $(seq 1 50); do
  if fetch_https /readyz >/dev/null 2>&1; then break; fi
  sleep 0.2
done
fetch_https /readyz; echo
review='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"image-1","kind":{"group":"","version":"v1","kind":"PersistentVolumeClaim"},"namespace":"payments","operation":"CREATE","object":{"metadata":{"name":"d"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}}}'
answer=$(fetch_https /mutate "$review")
echo "$answer" | grep -q '"uid":"image-1"' || { echo "FAIL: $answer" >&2; cat "$app.log" >&2; exit 1; }
kill -TERM "$pid"
wait "$pid"
status=$?
pid=
rm -f "$app.log"
echo "image entrypoint: production dependencies only, uid 65532, read-only app folder: served and exited $status on SIGTERM"
[ "$status" = 0 ]
