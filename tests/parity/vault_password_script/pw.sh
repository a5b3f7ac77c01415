#!/bin/sh
echo script-parity-pw
