targetScope = 'subscription'

// One Flex Consumption function app with its storage, identity, Key Vault and monitoring, laid out like
// Azure-Samples/functions-quickstart-typescript-azd. `azd up` fills the parameters from main.parameters.json;
// `az deployment sub create` takes them on the command line. No key, connection string or secret value is
// written here: storage and Application Insights use the managed identity, secrets arrive as secure parameters
// and live only in Key Vault.

// ------------------------------------------------------------------------------------------------------------
// Environment

@minLength(1)
@maxLength(64)
@description('Name of the environment, used for the resource group and a short unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. Flex Consumption is not offered everywhere: see "az functionapp list-flexconsumption-locations".')
@metadata({ azd: { type: 'location' } })
param location string

@description('Optional resource group name; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Optional function app name (globally unique); default func-api-<token>.')
param functionAppName string = ''

@description('Maximum instances of the Flex Consumption app.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances for the HTTP trigger group. 1 keeps a warm instance so Graph (3 s) and Teams (5 s) deadlines hold after idle periods; 0 saves its cost.')
@minValue(0)
param alwaysReadyHttpInstances int = 1

@description('Key Vault purge protection. Leave on for real tenants; turn off for throwaway environments so that `azd down --purge` frees the vault name.')
param keyVaultPurgeProtection bool = true

// ------------------------------------------------------------------------------------------------------------
// Storage the app uses (names from src/: NOTIFICATION_QUEUE and every tableClient(...) name)

@description('Queue between the Graph endpoints and processNotifications (NOTIFICATION_QUEUE).')
@minLength(3)
@maxLength(56)
param notificationQueueName string = 'webhooksnotificationqueue'

// Tables the app reads and writes: the directory mirror, Graph subscription state, expenses, the expense index and
// the messaging-extension store. Fixed by the code, so not a parameter.
var tableNames = [
  'directory'
  'graphstate'
  'expenses'
  'expensesbyuser'
  'composeextension'
]

// ------------------------------------------------------------------------------------------------------------
// Tenant choices (empty string = not set; the app then applies its documented default or reports the feature
// as not configured in GET /api/health). Every default is a literal that main.parameters.json repeats; a default
// that depends on the deployment (tenant, cloud) is '' here and resolved below, because azd passes '' for an
// empty variable and '' would replace an expression default.

@description('Public https origin of the app. Default: https:// and the site\'s default host name. Set it when a custom domain or a front door serves the app.')
param publicBaseUrl string = ''

// Microsoft Graph. (The graph endpoint of Bicep's environment() is the retired Azure AD Graph, not this.)
@description('Microsoft Graph root. National clouds: https://graph.microsoft.us (US Government L4), https://dod-graph.microsoft.us (L5), https://microsoftgraph.chinacloudapi.cn (21Vianet).')
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('Graph subscription resource.')
param graphSubscriptionResource string = 'users'

@description('Graph change types, comma-separated.')
param graphChangeTypes string = 'updated,deleted'

@description('Hours between full /users/delta reconciliations of the directory, at most.')
param directoryFullSyncHours string = '24'

@description('NCRONTAB (six fields, UTC) of maintainSubscriptions.')
param graphSubscriptionSchedule string = '0 0 * * * *'

@description('Entra ID authority host; empty = the one of the deployment\'s cloud.')
param entraAuthorityHost string = ''

@description('Accepted aud values of actionable-message tokens, comma-separated: the dashboard\'s api://auth-am-... URI and/or the provider app\'s client id.')
param actionableMessageAudience string = ''

@description('Tenant of actionable-message tokens: empty = this tenant; "common" accepts any tenant (tid bound to iss).')
param actionableMessageTenantId string = ''

@description('When set, the scp claim of actionable-message tokens must contain it.')
param actionableMessageScope string = ''

@description('When set, legacy substrate tokens with this aud are accepted too (needs actionableMessageSender).')
param actionableMessageLegacyAudience string = ''

@description('OpenID metadata of legacy substrate tokens; empty = the app default.')
param actionableMessageLegacyMetadataUrl string = ''

@description('Mailbox that sends the approval cards through Graph.')
param actionableMessageSender string = ''

@description('Provider id from the Actionable Email Developer Dashboard.')
param actionableMessageOriginator string = ''

@description('Optional comma list of domains an approver may act from.')
param actionableMessageAllowedPerformerDomains string = ''

@description('Comma list of addresses or object ids (finance staff, auditors) who may see every expense in Teams besides its submitter and approver')
param expenseReaders string = ''

@description('The mailed approval card: http (Action.Http to the app) or universal (Action.Execute through the bot; register the provider for the bot first).')
@allowed([
  'http'
  'universal'
])
param actionableMessageCard string = 'http'

@description('Pricing tier of the Azure Bot; Teams and Outlook are standard channels, free on F0.')
@allowed([
  'F0'
  'S1'
])
param botSku string = 'F0'

@description('Bot Framework OpenID metadata; empty = the app default (public cloud).')
param botOpenIdMetadataUrl string = ''

@description('Bot Framework token issuer; empty = the app default (public cloud).')
param botTokenIssuer string = ''

@description('"entra": messaging-extension users sign in before searching; "off": no sign-in.')
@allowed([
  'off'
  'entra'
])
param composeExtensionSignin string = 'off'

@description('Client id of the Entra app of the sign-in pop-up.')
param signinClientId string = ''

@description('Tenant of the sign-in app, used only when signinClientId is set; empty = this tenant.')
param signinTenantId string = ''

// ------------------------------------------------------------------------------------------------------------
// Secrets: written to Key Vault only, referenced from app settings. Secure parameters whose only default is
// "not given" (''), so no value is ever generated or stored by the template: a value generated per deployment
// (newGuid()) would rotate clientState and the action-token key on every redeploy, breaking the Graph
// subscription and every approval card in flight. Leave one empty while you do not have it yet (the
// outgoing-webhook token exists only after Teams creates the webhook): its app setting is then not set, the
// feature answers 503 and GET /api/health reports it as not configured. azd keeps given values in the
// environment (azd env set), so later provisions pass them again; with az deployment pass them every time.

@secure()
@description('clientState of the Graph subscription, 1-128 characters (e.g. openssl rand -base64 48).')
param graphClientState string = ''

@secure()
@description('Base64 key of at least 32 bytes that signs action tokens (openssl rand -base64 32).')
param actionTokenKey string = ''

@secure()
@description('Comma list of name:base64SecurityToken of Teams outgoing webhooks.')
param outgoingWebhookSecrets string = ''

@secure()
@description('Client secret of the sign-in Entra app.')
param signinClientSecret string = ''

// ------------------------------------------------------------------------------------------------------------
// Microsoft Graph application permissions and alerting

@description('Grant User.Read.All and Mail.Send to the managed identity through the Microsoft Graph Bicep extension. The deploying identity needs Privileged Role Administrator (or AppRoleAssignment.ReadWrite.All and Application.Read.All); otherwise leave false and have an administrator grant them (README, Deployment).')
param assignGraphAppRoles bool = false

// Graph application permissions of the managed identity: what the code calls (directory mirror and change
// notifications; approval cards).
var graphAppRoles = [
  'User.Read.All'
  'Mail.Send'
]

@description('E-mail address that receives alerts; empty = no action group is created.')
param alertEmailAddress string = ''

@description('Resource id of an existing action group that receives alerts as well.')
param alertActionGroupResourceId string = ''

@description('Authentication rejections in 15 minutes above which the verification-failure alert fires.')
param verificationFailureThreshold int = 25

@description('Percentage of 5xx answers in 15 minutes (at least 20 requests) above which the 5xx alert fires.')
param serverErrorPercentThreshold int = 5

@description('Alert on the Graph subscription (maintenance failing, expiring). Turn off when Graph change notifications are not used.')
param graphSubscriptionAlerts bool = true

@description('Hours without an ensured Graph subscription before the expiring alert fires.')
@minValue(2)
@maxValue(48)
param subscriptionMaintenanceWindowHours int = 6

// ------------------------------------------------------------------------------------------------------------
// Names

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(toLower(uniqueString(appName, resourceToken)), 7)}'
// The site's own host name (an output of the site), unless a custom domain serves the app.
var baseUrl = api.outputs.publicBaseUrl

// App setting name -> Key Vault secret name. Only secrets passed to this deployment are referenced.
var keyVaultSecretNames = {
  GRAPH_CLIENT_STATE: 'graph-client-state'
  ACTION_TOKEN_KEY: 'action-token-key'
  OUTGOING_WEBHOOK_SECRETS: 'outgoing-webhook-secrets'
  SIGNIN_CLIENT_SECRET: 'signin-client-secret'
}
var secretsProvided = {
  GRAPH_CLIENT_STATE: !empty(graphClientState)
  ACTION_TOKEN_KEY: !empty(actionTokenKey)
  OUTGOING_WEBHOOK_SECRETS: !empty(outgoingWebhookSecrets)
  SIGNIN_CLIENT_SECRET: !empty(signinClientSecret)
}

// Every plain setting the app reads (the README's Configuration table), except PUBLIC_BASE_URL, which
// app/api.bicep derives from the site. Empty values are left out, so the app applies its own default.
// AZURE_CLIENT_ID names the user-assigned identity, so Graph needs no client secret. The bot is the Azure Bot below,
// whose app id is that same identity in this tenant: BOT_APP_TYPE is its msaAppType (app/bot.bicep), BOT_APP_ID
// the identity's client id (the aud of the Bot Connector's tokens) and BOT_TENANT_ID this tenant. The tokens the
// app accepts are the same for every bot type; these say what the bot is.
var appSettings = {
  NOTIFICATION_QUEUE: notificationQueueName
  GRAPH_BASE_URL: graphBaseUrl
  GRAPH_SUBSCRIPTION_RESOURCE: graphSubscriptionResource
  GRAPH_CHANGE_TYPES: graphChangeTypes
  GRAPH_SUBSCRIPTION_SCHEDULE: graphSubscriptionSchedule
  DIRECTORY_FULL_SYNC_HOURS: directoryFullSyncHours
  AZURE_TENANT_ID: tenant().tenantId
  AZURE_CLIENT_ID: identity.outputs.clientId
  ENTRA_AUTHORITY_HOST: !empty(entraAuthorityHost) ? entraAuthorityHost : environment().authentication.loginEndpoint
  ACTIONABLE_MESSAGE_AUDIENCE: actionableMessageAudience
  ACTIONABLE_MESSAGE_TENANT_ID: !empty(actionableMessageTenantId) ? actionableMessageTenantId : tenant().tenantId
  ACTIONABLE_MESSAGE_SCOPE: actionableMessageScope
  ACTIONABLE_MESSAGE_LEGACY_AUDIENCE: actionableMessageLegacyAudience
  ACTIONABLE_MESSAGE_LEGACY_METADATA_URL: actionableMessageLegacyMetadataUrl
  ACTIONABLE_MESSAGE_SENDER: actionableMessageSender
  ACTIONABLE_MESSAGE_ORIGINATOR: actionableMessageOriginator
  ACTIONABLE_MESSAGE_ALLOWED_PERFORMER_DOMAINS: actionableMessageAllowedPerformerDomains
  EXPENSE_READERS: expenseReaders
  BOT_APP_TYPE: 'UserAssignedMSI'
  ACTIONABLE_MESSAGE_CARD: actionableMessageCard
  BOT_APP_ID: identity.outputs.clientId
  BOT_TENANT_ID: tenant().tenantId
  BOT_OPENID_METADATA_URL: botOpenIdMetadataUrl
  BOT_TOKEN_ISSUER: botTokenIssuer
  COMPOSE_EXTENSION_SIGNIN: composeExtensionSignin
  SIGNIN_CLIENT_ID: signinClientId
  SIGNIN_TENANT_ID: empty(signinClientId) ? '' : !empty(signinTenantId) ? signinTenantId : tenant().tenantId
}

// ------------------------------------------------------------------------------------------------------------
// Resources

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module plan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'plan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
    location: location
    tags: tags
  }
}

module storage 'br/public:avm/res/storage/storage-account:0.27.1' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    kind: 'StorageV2'
    skuName: 'Standard_LRS'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [
        { name: deploymentContainerName }
      ]
    }
    queueServices: {
      queues: [
        { name: notificationQueueName }
        // The host moves a message here after maxDequeueCount (host.json) failed attempts.
        { name: '${notificationQueueName}-poison' }
      ]
    }
    tableServices: {
      tables: map(tableNames, table => { name: table })
    }
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module appInsights 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'appInsights'
  scope: rg
  params: {
    name: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    // Ingestion only with an Entra token: the app's identity holds Monitoring Metrics Publisher.
    disableLocalAuth: true
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    purgeProtection: keyVaultPurgeProtection
    secretNames: keyVaultSecretNames
    graphClientState: graphClientState
    actionTokenKey: actionTokenKey
    outgoingWebhookSecrets: outgoingWebhookSecrets
    signinClientSecret: signinClientSecret
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: appInsights.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  // Key Vault references and identity-based storage resolve only once the roles exist.
  dependsOn: [rbac]
  params: {
    name: appName
    location: location
    tags: tags
    planId: plan.outputs.resourceId
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: appInsights.outputs.name
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    publicBaseUrl: publicBaseUrl
    appSettings: appSettings
    keyVaultUri: keyVault.outputs.uri
    keyVaultSecretNames: keyVaultSecretNames
    secretsProvided: secretsProvided
  }
}

module bot 'app/bot.bicep' = {
  name: 'bot'
  scope: rg
  params: {
    name: '${abbrs.botServices}${resourceToken}'
    tags: tags
    sku: botSku
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    messagingEndpoint: '${baseUrl}/api/compose-extension'
  }
}

module graphPermissions 'app/graph-permissions.bicep' = if (assignGraphAppRoles) {
  name: 'graphPermissions'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    appRoles: graphAppRoles
  }
}

module alerts 'app/monitoring/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: appName
    location: location
    tags: tags
    applicationInsightsName: appInsights.outputs.name
    actionGroupName: '${abbrs.insightsActionGroups}${resourceToken}'
    alertEmailAddress: alertEmailAddress
    existingActionGroupResourceId: alertActionGroupResourceId
    verificationFailureThreshold: verificationFailureThreshold
    serverErrorPercentThreshold: serverErrorPercentThreshold
    subscriptionMaintenanceWindowHours: subscriptionMaintenanceWindowHours
    graphSubscriptionAlerts: graphSubscriptionAlerts
  }
}

module workbook 'app/monitoring/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsName: appInsights.outputs.name
    displayName: 'M365 back end operations (${appName})'
  }
}

// ------------------------------------------------------------------------------------------------------------
// Outputs: every value the README asks you to paste somewhere (azd writes them to .azure/<env>/.env). The
// identity's client id is MANAGED_IDENTITY_CLIENT_ID, not AZURE_CLIENT_ID, which azd and CI logins use for themselves.

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output BOT_APP_ID string = identity.outputs.clientId
output BOT_NAME string = bot.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output APPLICATIONINSIGHTS_NAME string = appInsights.outputs.name
output PUBLIC_BASE_URL string = baseUrl
output HEALTH_URL string = '${baseUrl}/api/health'
output GRAPH_NOTIFICATION_URL string = '${baseUrl}/api/graph-webhook'
output GRAPH_LIFECYCLE_NOTIFICATION_URL string = '${baseUrl}/api/graph-lifecycle'
output ACTIONABLE_MESSAGE_TARGET_URL string = '${baseUrl}/api/actionable-message'
output EXPENSES_API_URL string = '${baseUrl}/api/expenses'
output OUTGOING_WEBHOOK_CALLBACK_URL string = '${baseUrl}/api/outgoing-webhook'
output BOT_MESSAGING_ENDPOINT string = '${baseUrl}/api/compose-extension'
output SIGNIN_REDIRECT_URI string = '${baseUrl}/api/signin/callback'
output SETTINGS_PAGE_URL string = '${baseUrl}/api/settings'
output GRAPH_APP_ROLES_ASSIGNED bool = assignGraphAppRoles
