#!/usr/bin/env bash
# Push the built image to ECR (or to REGISTRY), tagged by git SHA, and print where it went.
#
#   deploy/push_image.sh                     # ECR of the current AWS account and region
#   REGISTRY=127.0.0.1:5000 deploy/push_image.sh   # any registry host (tests use a local one)
#
# Settings (environment): IMAGE (local image, default abalone-byom:local), ECR_REPOSITORY
# (default abalone-byom), REGISTRY (host; empty means ECR), REGISTRY_USER / REGISTRY_PASSWORD
# (log in to REGISTRY; none: no login), TAG (default: the commit SHA, "-dirty" appended when the
# work tree has changes; a dirty tag is refused for ECR, whose tags are immutable).
#
# Output: progress on stderr; on stdout (and appended to $GITHUB_OUTPUT when set) exactly
#   image_uri=<registry>/<repository>@sha256:<digest>   (what the pipeline and SageMaker use)
#   image_tag_uri=<registry>/<repository>:<tag>
#   digest=sha256:<digest>
set -euo pipefail

IMAGE=${IMAGE:-abalone-byom:local}
ECR_REPOSITORY=${ECR_REPOSITORY:-abalone-byom}
REGISTRY=${REGISTRY:-}

log() { echo "push_image: $*" >&2; }
die() { log "error: $*"; exit 1; }

git_tag() {
  local sha
  sha=$(git rev-parse HEAD 2>/dev/null) || die "not a git work tree; set TAG"
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    echo "${sha}-dirty"
  else
    echo "$sha"
  fi
}

ecr_registry() {
  local account region
  account=$(aws sts get-caller-identity --query Account --output text) \
    || die "no AWS credentials (aws sts get-caller-identity failed)"
  region=${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region || true)}}
  [ -n "$region" ] || die "no AWS region: set AWS_REGION"
  echo "${account}.dkr.ecr.${region}.amazonaws.com"
}

# The digest ECR already holds for the tag (immutable tags: a re-run must not push again).
ecr_existing_digest() {
  aws ecr describe-images --repository-name "$ECR_REPOSITORY" --image-ids "imageTag=$1" \
    --query 'imageDetails[0].imageDigest' --output text 2>/dev/null || true
}

login() {
  local registry=$1
  if [ "$2" = ecr ]; then
    aws ecr get-login-password | docker login --username AWS --password-stdin "$registry" >&2
  elif [ -n "${REGISTRY_USER:-}" ]; then
    printf '%s' "${REGISTRY_PASSWORD:-}" \
      | docker login --username "$REGISTRY_USER" --password-stdin "$registry" >&2
  fi
}

# docker push ends with "<tag>: digest: sha256:<hex> size: <n>"; that is this push's digest.
push() {
  local ref=$1 out
  out=$(docker push "$ref" 2>&1) || { echo "$out" >&2; die "docker push $ref failed"; }
  echo "$out" >&2
  grep -oE 'digest: sha256:[0-9a-f]{64}' <<<"$out" | tail -n 1 | cut -d' ' -f2
}

report() {
  local lines
  lines=$(printf 'image_uri=%s@%s\nimage_tag_uri=%s\ndigest=%s\n' "$1" "$3" "$2" "$3")
  echo "$lines"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "$lines" >>"$GITHUB_OUTPUT"
  fi
}

main() {
  docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE not found; run make build"
  local tag=${TAG:-} mode=registry registry=$REGISTRY
  [ -n "$tag" ] || tag=$(git_tag)
  if [ -z "$registry" ]; then
    mode=ecr
    registry=$(ecr_registry)
    case $tag in *-dirty) die "uncommitted changes: commit first, or set TAG, to push to ECR" ;; esac
  fi
  local repo="$registry/$ECR_REPOSITORY" digest=""
  if [ "$mode" = ecr ]; then
    digest=$(ecr_existing_digest "$tag")
    if [[ $digest == sha256:* ]]; then
      log "$repo:$tag is already in ECR (tags are immutable): not pushing again"
      report "$repo" "$repo:$tag" "$digest"
      return
    fi
  fi
  login "$registry" "$mode"
  docker tag "$IMAGE" "$repo:$tag"
  log "pushing $IMAGE as $repo:$tag"
  digest=$(push "$repo:$tag")
  [ -n "$digest" ] || die "docker push printed no digest"
  report "$repo" "$repo:$tag" "$digest"
}

main "$@"
