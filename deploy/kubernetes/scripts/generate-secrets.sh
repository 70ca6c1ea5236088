#!/usr/bin/env bash
# Writes the secret files an overlay's secretGenerator reads (OVERLAY/secrets/, ignored by git),
# and rotates them. See docs/deployment.md ("Keys and secrets", "Rotation").
#
#   generate-secrets.sh OVERLAY                       create every missing file; never overwrites
#   generate-secrets.sh OVERLAY rotate NAME           replace one secret with a new random value:
#       admin-token | oauth2-provision-key | oauth2-client-secret | redis-password |
#       postgres-password | admin-key
#   generate-secrets.sh OVERLAY stage-signing-key     new key in the verify-only slot (step 1)
#   generate-secrets.sh OVERLAY promote-signing-key   swap: the staged key signs (step 2)
#
# Keys come from `tollgate keys generate` (RS256, 4096 bits; TOLLGATE_KEY_BITS overrides);
# tokens and passwords are 32 random bytes in hex (URL-safe: they go into postgres:// and
# redis:// URLs). The command used for tollgate is $TOLLGATE, else `tollgate` on PATH, else
# this checkout's bin/tollgate.js (run `npm ci` first: it builds dist/).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
overlay="${1%/}"
action="${2:-create}"
[ -f "$overlay/kustomization.yaml" ] || { echo "generate-secrets: $overlay/kustomization.yaml not found: pass an overlay directory such as deploy/kubernetes/overlays/production" >&2; exit 2; }
dir="$overlay/secrets"
bits="${TOLLGATE_KEY_BITS:-4096}"

if [ -n "${TOLLGATE:-}" ]; then
  read -r -a tollgate <<<"$TOLLGATE"
elif command -v tollgate >/dev/null 2>&1; then
  tollgate=(tollgate)
else
  tollgate=(node "$repo/bin/tollgate.js")
fi

umask 077
mkdir -p "$dir"

random_hex() { openssl rand -hex 32 | tr -d '\n'; }

# write FILE VALUE: the value without a trailing newline (it becomes an environment variable).
write() { printf '%s' "$2" >"$dir/$1"; }

# keypair NAME: NAME/private.pem, NAME/public.pem, NAME/jwk.json and NAME/kid (no newline).
keypair() {
  local out="$dir/$1" tmp
  tmp="$(mktemp -d "$dir/.keys.XXXXXX")"
  "${tollgate[@]}" keys generate --bits "$bits" --out "$tmp" >/dev/null
  for f in private.pem public.pem jwk.json; do
    [ -s "$tmp/$f" ] || { echo "generate-secrets: tollgate keys generate wrote no $f" >&2; rm -rf "$tmp"; exit 1; }
  done
  node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (!j.kid) process.exit(1); process.stdout.write(j.kid)' "$tmp/jwk.json" >"$tmp/kid"
  rm -rf "$out"
  mv "$tmp" "$out"
}

create_missing() {
  local f
  for f in admin-token oauth2-provision-key oauth2-client-secret postgres-password redis-password; do
    [ -s "$dir/$f" ] || write "$f" "$(random_hex)"
  done
  [ -s "$dir/oauth2-client-id" ] || write oauth2-client-id "admin-$(openssl rand -hex 8 | tr -d '\n')"
  # admin-key: the seed's consumer key. Its private half signs tokens (tollgate token mint);
  # only public.pem goes into the cluster.
  for k in admin-key signing-key previous-signing-key; do
    if [ ! -s "$dir/$k/private.pem" ] || [ ! -s "$dir/$k/kid" ]; then keypair "$k"; fi
  done
}

case "$action" in
  create)
    create_missing
    ;;
  rotate)
    name="${3:-}"
    case "$name" in
      admin-token | oauth2-provision-key | oauth2-client-secret | redis-password | postgres-password)
        write "$name" "$(random_hex)"
        ;;
      admin-key)
        keypair admin-key
        ;;
      *) usage ;;
    esac
    ;;
  stage-signing-key)
    # The key in the verify-only slot signed nothing for a whole rotation period: replace it.
    keypair previous-signing-key
    ;;
  promote-signing-key)
    tmp="$dir/.swap"
    rm -rf "$tmp"
    mv "$dir/signing-key" "$tmp"
    mv "$dir/previous-signing-key" "$dir/signing-key"
    mv "$tmp" "$dir/previous-signing-key"
    ;;
  *) usage ;;
esac

echo "secrets in $dir:" >&2
(cd "$dir" && find . -type f ! -name '.*' | sed 's|^\./|  |' | sort) >&2
