# Every pinned version of what the harness installs, in one place. Sourced by the scripts here.
# LocalStack on CPython 3.11 (see docs/localstack.md): newer localstack-core
# needs Python 3.12; these pins make 4.9.2 import on 3.11.
LOCALSTACK_PINS="localstack-core[runtime]==4.9.2 cbor2==5.6.5 pyOpenSSL==24.2.1 cryptography==43.0.3 service_identity==24.1.0"
# Prometheus comes from Debian's archive (2.42 on Debian 12); any 2.39+ has the settings we use.
PROMETHEUS_MIN_MAJOR_MINOR="2.39"
KUBE_VALIDATE_PINS="kubernetes-validate==1.37.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0 PyYAML==6.0.4 packaging==26.4 importlib_resources==7.1.0 typing_extensions==4.16.0"
# The AWS CLI v1 for the `cargo xtask up` tests, every dependency pinned.
AWSCLI_PINS="awscli==1.33.44 botocore==1.34.162 s3transfer==0.10.4 docutils==0.16 PyYAML==6.0.4 colorama==0.4.6 rsa==4.7.2 pyasn1==0.6.5 jmespath==1.1.0 python-dateutil==2.9.0.post0 six==1.17.0 urllib3==2.8.0"
# The supply-chain gate (scripts/cargo-deny.sh, deny.toml).
CARGO_DENY_VERSION="${CARGO_DENY_VERSION:-0.20.2}"
# pyarrow for the independent reader of the bucket (scripts/pyarrow-bucket-totals.py): one
# manylinux wheel for CPython 3.11 with its S3 filesystem built in; since 18.0 numpy is optional.
PYARROW_PINS="pyarrow==26.0.1"
