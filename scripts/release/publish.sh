#!/usr/bin/env bash
# CI's last step (cloudbuild.ci.yaml): publish what this build tested as release RELEASE, for CD to deploy
# as is. Uploads the function zips under the names Terraform gives them (<fn>/<md5>.zip), then the
# release manifest gs://BUCKET/releases/RELEASE.env: the relay image by digest and each zip's object and
# sha256. CI may create objects but never replace one, so a published release cannot be changed.
#   scripts/release/publish.sh RELEASE BUCKET IMAGE_REPOSITORY
# Reads .release/relay-image (repository@sha256:..., written after the push) and dist/packages/*.zip.
set -euo pipefail

# shellcheck source=scripts/release/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
release_args "$@"

image=$(cat .release/relay-image)
[[ $image =~ ^${repository}@sha256:[0-9a-f]{64}$ ]] ||
  die "pushed relay image '$image' is not ${repository}@sha256:<64 hex>"

# Creates gs://BUCKET/OBJECT from FILE unless it exists (content-addressed zips are the same bytes).
upload() {
  local file=$1 object=$2
  if gcloud storage objects describe "gs://$bucket/$object" >/dev/null 2>&1; then
    echo "publish-release: gs://$bucket/$object already exists, kept" >&2
  else
    gcloud storage cp --no-clobber "$file" "gs://$bucket/$object" >&2
  fi
}

if gcloud storage objects describe "gs://$bucket/releases/$release.env" >/dev/null 2>&1; then
  echo "publish-release: release $release was published before and is kept as it was" >&2
  exit 0
fi

manifest=.release/release.env
{
  echo "RELEASE=$release"
  echo "RELAY_IMAGE=$image"
  for fn in "${RELEASE_FUNCTIONS[@]}"; do
    zip=dist/packages/$fn.zip
    [[ -s $zip ]] || die "$zip is missing (package step)"
    object="$fn/$(md5sum "$zip" | cut -c1-32).zip"
    upload "$zip" "$object"
    echo "${fn^^}_ZIP=$object"
    echo "${fn^^}_SHA256=$(sha256sum "$zip" | cut -c1-64)"
  done
} >"$manifest"
upload "$manifest" "releases/$release.env"
echo "publish-release: gs://$bucket/releases/$release.env" >&2
cat "$manifest" >&2
