// Key Vault in RBAC mode for the secrets the app still needs. Each secret is written only when its secure
// parameter is non-empty, straight from that parameter (never through a variable or an output), so no value is
// in a template, a parameter file or the deployment history. The app reads them through Key Vault references.
// A native vault resource rather than the AVM module, because the AVM module takes secrets as an array, which
// would carry the secure values through a variable.

param name string
param location string
param tags object
param purgeProtection bool

@description('App setting name -> secret name.')
param secretNames object

@secure()
param graphClientState string
@secure()
param actionTokenKey string
@secure()
param outgoingWebhookSecrets string
@secure()
param signinClientSecret string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Access by Azure RBAC only (the app's identity holds Key Vault Secrets User); no access policies.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Once on, purge protection cannot be turned off; ARM rejects `false`, so it is left out instead.
    enablePurgeProtection: purgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
  }
}

resource graphClientStateSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(graphClientState)) {
  parent: vault
  name: secretNames.GRAPH_CLIENT_STATE
  properties: {
    value: graphClientState
  }
}

resource actionTokenKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(actionTokenKey)) {
  parent: vault
  name: secretNames.ACTION_TOKEN_KEY
  properties: {
    value: actionTokenKey
  }
}

resource outgoingWebhookSecretsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(outgoingWebhookSecrets)) {
  parent: vault
  name: secretNames.OUTGOING_WEBHOOK_SECRETS
  properties: {
    value: outgoingWebhookSecrets
  }
}

resource signinClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(signinClientSecret)) {
  parent: vault
  name: secretNames.SIGNIN_CLIENT_SECRET
  properties: {
    value: signinClientSecret
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
