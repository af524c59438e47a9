"""Development helpers the tests, the bench and the soak share (never copied into the image).

ports: a free 127.0.0.1 port. containers: the image run in Docker, serving a model mounted
read-only as SageMaker mounts it, labelled with this run's id. load: the Python load generator.
adversarial: the corpus of hostile request bodies. The readiness poller is the product's own,
deploy.invoke.wait_until_ready, which these helpers call.
"""
