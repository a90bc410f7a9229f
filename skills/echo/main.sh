#!/bin/sh
# The echo skill: answers a request with the request itself. It has no dependencies, so the
# registry's and (later) the runner's tests can run a real skill anywhere.
exec cat
