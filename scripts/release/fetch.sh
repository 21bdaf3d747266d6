#!/usr/bin/env bash
# CD's first step (cloudbuild.yaml): fetch release RELEASE as CI published it and check it before
# anything is deployed. Reads gs://BUCKET/releases/RELEASE.env (strictly: KEY=VALUE lines, never sourced),
# downloads each function zip to dist/packages/<fn>.zip and checks its sha256 and its content-addressed
# name, and writes infra/release.auto.tfvars.json (the relay image digest Terraform deploys) and
# .release/relay-image (for the smoke check). Any mismatch stops the deploy.
#   scripts/release/fetch.sh RELEASE BUCKET IMAGE_REPOSITORY
set -euo pipefail

# shellcheck source=scripts/release/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
release_args "$@"

mkdir -p .release dist/packages
gcloud storage cp "gs://$bucket/releases/$release.env" .release/release.env >&2 ||
  die "no release manifest gs://$bucket/releases/$release.env: has CI (cloudbuild.ci.yaml) passed for $release?"

declare -A field
while IFS= read -r line || [[ -n $line ]]; do
  [[ $line =~ ^([A-Z0-9_]+)=([A-Za-z0-9@:/._-]+)$ ]] || die "malformed manifest line: '$line'"
  [[ -z ${field[${BASH_REMATCH[1]}]:-} ]] || die "manifest repeats ${BASH_REMATCH[1]}"
  field[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done <.release/release.env

[[ ${field[RELEASE]:-} == "$release" ]] || die "manifest is for release '${field[RELEASE]:-}', not $release"
image=${field[RELAY_IMAGE]:-}
[[ $image =~ ^${repository}@(sha256:[0-9a-f]{64})$ ]] ||
  die "relay image '$image' is not ${repository}@sha256:<64 hex>"
digest=${BASH_REMATCH[1]}

for fn in "${RELEASE_FUNCTIONS[@]}"; do
  key=${fn^^}
  object=${field[${key}_ZIP]:-}
  sha=${field[${key}_SHA256]:-}
  [[ $object =~ ^$fn/([0-9a-f]{32})\.zip$ ]] || die "$fn zip object '$object' is not $fn/<md5>.zip"
  md5=${BASH_REMATCH[1]}
  [[ $sha =~ ^[0-9a-f]{64}$ ]] || die "$fn sha256 '$sha' is not 64 hex digits"
  zip=dist/packages/$fn.zip
  gcloud storage cp "gs://$bucket/$object" "$zip" >&2
  [[ $(sha256sum "$zip" | cut -c1-64) == "$sha" ]] || die "$zip does not have the sha256 CI published"
  [[ $(md5sum "$zip" | cut -c1-32) == "$md5" ]] || die "$zip does not have the md5 its name says"
done

printf '{ "relay_image_digest": "%s" }\n' "$digest" >infra/release.auto.tfvars.json
printf '%s\n' "$image" >.release/relay-image
echo "fetch-release: release $release checked: relay $digest, zips of ${RELEASE_FUNCTIONS[*]}" >&2
