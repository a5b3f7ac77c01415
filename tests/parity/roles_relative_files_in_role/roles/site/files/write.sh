#!/bin/sh
echo from role script > "$1"
