# Shared by publish.sh and fetch.sh (sourced): the error exit and the three arguments both take.
# Sets release, bucket and repository, or stops with the usage.

# The function zips a release carries (scripts/package-function.ts names), in manifest order.
RELEASE_FUNCTIONS=(writer gapfill compactor)

die() {
  echo "$(basename "$0" .sh)-release: $*" >&2
  exit 1
}

release_args() {
  [[ $# -eq 3 ]] || die "usage: $(basename "$0") RELEASE BUCKET IMAGE_REPOSITORY"
  release=$1 bucket=$2 repository=$3
  [[ $release =~ ^[0-9a-f]{7,40}$ ]] || die "release '$release' is not a commit sha"
}
