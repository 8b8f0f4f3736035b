"""gtc-demo: composition only. Read the stack config once, build the components, export the outputs."""

import pulumi

from components.config import load_settings
from components.infra import Infrastructure, InfrastructureArgs
from components.platform import Platform, PlatformArgs

settings = load_settings()
config = settings.config

infra = Infrastructure("infra", InfrastructureArgs(config=config, secrets=settings.secrets))
on_cluster = pulumi.ResourceOptions(providers={"kubernetes": infra.k8s_provider})
platform = Platform("platform", PlatformArgs(config=config, secrets=settings.secrets, infra=infra), opts=on_cluster)

pulumi.export("hostname", config.hostname)
pulumi.export("clusterName", infra.cluster.name)
pulumi.export("clusterId", infra.cluster.id)
pulumi.export("kubeconfig", infra.kubeconfig)
pulumi.export("nfsHost", infra.nfs_host)
pulumi.export("nfsPath", infra.nfs_path)
pulumi.export("grafanaAdminPassword", pulumi.Output.secret(platform.grafana_admin_password.result))
