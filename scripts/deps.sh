#!/bin/sh
# Installs, from Debian packages, everything the build and the tests need.
set -eu
packages="
build-essential pkg-config git ca-certificates curl openssl clang libclang-rt-14-dev
libcurl4-openssl-dev libyaml-dev libgit2-dev libarchive-dev libssl-dev
libjansson-dev libdeflate-dev libzstd-dev libcmocka-dev libexpat1-dev
docker-registry skopeo umoci podman runc
busybox-static apache2-utils debootstrap
pigz zstd time jq mandoc
python3 python3-jwt python3-cryptography python3-sklearn python3-pip python3-yaml
python3-pip python3-setuptools python3-wheel python3-dev
"
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
# shellcheck disable=SC2086
$sudo apt-get install -y --no-install-recommends $packages
