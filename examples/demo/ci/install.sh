#!/bin/sh
echo "installing nothing: this example needs only sh"
