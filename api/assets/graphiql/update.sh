#!/usr/bin/env bash
# Re-fetches the GraphiQL page's third-party files from the npm registry, by
# exact version, and checks each package against its pinned integrity (the
# sha512 the registry published) before taking anything out of it. Run it
# from anywhere; it writes beside itself. To move to another version, change
# a line of PACKAGES (version and integrity from `npm view NAME@VERSION
# dist.integrity`), run this, and try /graphql in a browser.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name version integrity file-in-package:file-here ...
PACKAGES=(
  "react 18.3.1 sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ== umd/react.production.min.js:react.production.min.js"
  "react-dom 18.3.1 sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw== umd/react-dom.production.min.js:react-dom.production.min.js"
  "graphiql 4.1.2 sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg== graphiql.min.js:graphiql.min.js graphiql.min.css:graphiql.min.css"
)

for line in "${PACKAGES[@]}"; do
  read -r name version integrity files <<<"$line"
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  tarball="$work/$name-$version.tgz"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [[ "$actual" != "$integrity" ]]; then
    echo "$name@$version: integrity $actual, expected $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/$name"
  tar -xzf "$tarball" -C "$work/$name"
  cp "$work/$name/package/LICENSE" "$here/LICENSE.$name"
  for pair in $files; do
    from="${pair%%:*}"
    to="${pair##*:}"
    # The source maps are not shipped: drop the comment that points at one,
    # so the page references nothing the server does not serve.
    grep -v '^//# sourceMappingURL=' "$work/$name/package/$from" >"$here/$to"
  done
  echo "$name@$version: verified, $files"
done
